import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, verifySignature } from '../../../lib/signing/standard-webhooks.js';
import { startScriptedServer, type ScriptedServer } from '../../support/scripted-server.js';

// The typed client as another team gets it: `npm run pack:client`, then `npm install <tarball>` into a project of
// their own, with no registry reachable.

const run = promisify(execFile);
let consumer: string;
let installed: string;
let service: ScriptedServer;

beforeAll(async () => {
  const out = await mkdtemp(join(tmpdir(), 'client-pack-'));
  consumer = await mkdtemp(join(tmpdir(), 'client-consumer-'));
  const { stdout } = await run('npm', ['run', '--silent', 'pack:client', '--', out]);
  const tarball = stdout.trim().split('\n').at(-1) as string;
  await writeFile(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module' }),
  );
  await run('npm', ['install', tarball, '--offline', '--no-audit', '--no-fund'], { cwd: consumer });
  installed = join(consumer, 'node_modules', 'bitrix24-typing-client');
  service = await startScriptedServer();
}, 120_000);
afterAll(() => service?.close());

describe('the client package', () => {
  it('installs on its own, with nothing else in the tree', async () => {
    // Act
    const tree = (await readdir(join(consumer, 'node_modules'))).filter((name) => !name.startsWith('.'));
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;

    // Assess
    expect(tree).toEqual(['bitrix24-typing-client']);
    expect(manifest).toMatchObject({ name: 'bitrix24-typing-client', type: 'module' });
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.peerDependencies).toBeUndefined();
  });

  it('signs and sends POST /typing when imported as an ES module', async () => {
    // Prepare
    const key = generateSigningKey();
    const script = [
      "import { createTypingClient } from 'bitrix24-typing-client';",
      'const typing = createTypingClient({ url: process.env.TYPING_URL, key: process.env.TYPING_KEY });',
      "console.log(JSON.stringify(await typing.sendTyping({ portal: 'example.bitrix24.com', dialogId: 'chat12' })));",
    ].join('\n');

    // Act
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: consumer,
      env: { ...process.env, TYPING_URL: service.url, TYPING_KEY: key },
    });

    // Assess
    expect(stdout).toBe('{"ok":true}\n');
    const sent = service.requests[0];
    expect(sent?.body).toBe('{"portal":"example.bitrix24.com","dialogId":"chat12"}');
    const headers = sent?.headers as Record<string, string>;
    expect(
      verifySignature({ headers, body: Buffer.from(sent?.body ?? ''), keys: [key], toleranceSeconds: 300 }).id,
    ).toBe(headers['webhook-id']);
  });

  it('says it is ESM only when required, and names a missing key instead of a TypeError', async () => {
    // Act
    const required = await run(process.execPath, ['-e', "require('bitrix24-typing-client')"], { cwd: consumer }).catch(
      (error: { stderr: string }) => error,
    );
    const missing = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { createTypingClient } from 'bitrix24-typing-client'; try { createTypingClient({ url: 'https://x.example', key: process.env.UNSET_TYPING_KEY }) } catch (e) { console.log(e.name + ': ' + e.message) }",
      ],
      { cwd: consumer },
    );

    // Assess
    expect(required.stderr).toContain(
      'Error: bitrix24-typing-client is an ES module: import it (import { createTypingClient } from "bitrix24-typing-client"), ' +
        'or from CommonJS use await import("bitrix24-typing-client").',
    );
    expect(missing.stdout).toBe(
      'TypingClientOptionsError: createTypingClient: key is missing: pass the whsec_... signing key you were given ' +
        '(got undefined; is the environment variable you read it from set?)\n',
    );
  });

  it('carries types a TypeScript caller compiles against', async () => {
    // Prepare
    await writeFile(
      join(consumer, 'caller.ts'),
      [
        "import { createTypingClient, TypingError, type TypingErrorCode } from 'bitrix24-typing-client';",
        "const typing = createTypingClient({ url: 'https://typing.example.com', key: ['whsec_x'] });",
        "const code: TypingErrorCode = 'PORTAL_UNKNOWN';",
        "export const send = () => typing.sendTyping({ portal: 'p.bitrix24.com', dialogId: 27, botId: 39 });",
        'export const known = (e: unknown) => e instanceof TypingError && e.code === code;',
      ].join('\n'),
    );
    const tsc = join(process.cwd(), 'node_modules', 'typescript', 'bin', 'tsc');

    // Act
    const compiled = await run(
      process.execPath,
      // As a caller on Node has it: @types/node beside the package.
      [
        tsc,
        'caller.ts',
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--types',
        'node',
        '--typeRoots',
        join(process.cwd(), 'node_modules', '@types'),
      ],
      { cwd: consumer },
    ).catch((error: { stdout: string }) => ({ stdout: error.stdout, failed: true }));

    // Assess
    expect(compiled).toMatchObject({ stdout: '' });
    expect('failed' in compiled).toBe(false);
  }, 90_000);
});
