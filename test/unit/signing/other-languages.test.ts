import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { signRequest, verifySignature } from '../../../lib/signing/standard-webhooks.js';

// README's signing test vectors, and the Python, PHP and Go snippets it prints (examples/signing/), run against the
// service's own signer and verifier. A language is skipped only when its binary is not installed, and says so.

const run = promisify(execFile);
const readme = readFileSync('README.md', 'utf8');

interface Vector {
  key: string;
  id: string;
  timestamp: number;
  body: string;
  signature: string;
}

/** The vectors as README prints them: one `key ... signature` block each, in the "Test vectors" section. */
function readmeVectors(): Vector[] {
  const section = /#### Test vectors\n([\s\S]*?)\n#### /.exec(readme)?.[1] ?? '';
  return [
    ...section.matchAll(/^key +(\S+)\nwebhook-id +(\S+)\nwebhook-timestamp +(\d+)\nbody +(.+)\nsignature +(\S+)$/gm),
  ].map(([, key, id, timestamp, body, signature]) => ({
    key: key as string,
    id: id as string,
    timestamp: Number(timestamp),
    body: body as string,
    signature: signature as string,
  }));
}

const installed = (command: string) => spawnSync(command, ['--version'], { encoding: 'utf8' }).status === 0;
// `go version`, not `--version`.
const goInstalled = spawnSync('go', ['version'], { encoding: 'utf8' }).status === 0;

const LANGUAGES = [
  {
    name: 'Python',
    file: 'examples/signing/sign.py',
    command: 'python3',
    args: ['sign.py'],
    found: installed('python3'),
  },
  { name: 'PHP', file: 'examples/signing/sign.php', command: 'php', args: ['sign.php'], found: installed('php') },
  { name: 'Go', file: 'examples/signing/sign.go', command: 'go', args: ['run', 'sign.go'], found: goInstalled },
];

for (const language of LANGUAGES) {
  if (!language.found) console.warn(`signing snippets: ${language.name} skipped, ${language.command} is not installed`);
}

describe("README's signing test vectors", () => {
  it('are what the service signs, and what it verifies', () => {
    // Act
    const vectors = readmeVectors();

    // Assess
    expect(vectors).toHaveLength(2);
    for (const v of vectors) {
      expect(signRequest({ key: v.key, id: v.id, timestamp: v.timestamp, body: v.body })['webhook-signature']).toBe(
        v.signature,
      );
      const headers = {
        'webhook-id': v.id,
        'webhook-timestamp': String(v.timestamp),
        'webhook-signature': v.signature,
      };
      expect(
        verifySignature({
          headers,
          body: Buffer.from(v.body),
          keys: [v.key],
          toleranceSeconds: 300,
          nowSeconds: v.timestamp,
        }),
      ).toEqual({ id: v.id, timestamp: v.timestamp });
    }
  });
});

describe.each(LANGUAGES)('the $name snippet', ({ name, file, command, args, found }) => {
  it('is printed in README as it is in its file', () => {
    // Assess
    expect(readme).toContain(readFileSync(file, 'utf8').trimEnd());
  });

  it.skipIf(!found)(
    `gives every vector's signature, which the service verifies${found ? '' : ` (skipped: ${command} is not installed)`}`,
    async () => {
      for (const v of readmeVectors()) {
        // Act
        const { stdout } = await run(command, [...args, v.key, v.id, String(v.timestamp), v.body], {
          cwd: 'examples/signing',
          timeout: 170_000,
        });

        // Assess
        const headers = JSON.parse(stdout) as Record<string, string>;
        expect(headers, name).toEqual({
          'webhook-id': v.id,
          'webhook-timestamp': String(v.timestamp),
          'webhook-signature': v.signature,
        });
        expect(
          verifySignature({
            headers,
            body: Buffer.from(v.body),
            keys: [v.key],
            toleranceSeconds: 300,
            nowSeconds: v.timestamp,
          }).id,
        ).toBe(v.id);
      }
    },
    180_000,
  );
});
