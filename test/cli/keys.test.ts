import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyId } from '../../bin/commands/keys.js';
import { verifySignature, signRequest } from '../../lib/signing/standard-webhooks.js';
import { cli } from '../support/cli.js';
import { putSecret, readSecret, uniquePrefix } from '../support/secrets.js';

const KEY = /^whsec_[A-Za-z0-9+/]{43}=$/;
let prefix: string;
let sm: string[];

beforeEach(() => {
  prefix = uniquePrefix();
  sm = ['--source', 'secrets-manager', '--prefix', prefix];
});

describe('keys generate', () => {
  it('prints a new 32-byte whsec_ key that signs and verifies', async () => {
    // Act
    const result = await cli(['keys', 'generate']);

    // Assess
    expect(result.code).toBe(0);
    const key = result.stdout.trim();
    expect(key).toMatch(KEY);
    const headers = signRequest({ body: '{}', key });
    expect(() =>
      verifySignature({ headers: { ...headers }, body: Buffer.from('{}'), keys: [key], toleranceSeconds: 300 }),
    ).not.toThrow();
  });

  it('prints {ok, key, keyId} under --json, a different key every time', async () => {
    // Act
    const first = (await cli(['keys', 'generate', '--json'])).json();
    const second = (await cli(['keys', 'generate', '--json'])).json();

    // Assess
    expect(first).toEqual({ ok: true, key: expect.stringMatching(KEY), keyId: keyId(first.key as string) });
    expect(second.key).not.toBe(first.key);
  });
});

describe('keys rotate', () => {
  it('creates <prefix>/typing-keys in Secrets Manager and prints only the key on stdout', async () => {
    // Act
    const result = await cli(['keys', 'rotate', ...sm]);

    // Assess
    expect(result.code).toBe(0);
    const key = result.stdout.trim();
    expect(key).toMatch(KEY);
    expect(result.stderr).toContain(`Created ${prefix}/typing-keys in secrets-manager`);
    expect(result.stderr).not.toContain(key);
    expect(await readSecret(`${prefix}/typing-keys`)).toEqual({ keys: [key] });
  });

  it('adds the new key after the live ones, and --json says so', async () => {
    // Prepare
    const old = (await cli(['keys', 'generate'])).stdout.trim();
    await putSecret(`${prefix}/typing-keys`, { keys: [old] });

    // Act
    const result = await cli(['keys', 'rotate', ...sm, '--json']);

    // Assess
    expect(result.code).toBe(0);
    const out = result.json();
    expect(out).toEqual({
      ok: true,
      secret: `${prefix}/typing-keys`,
      source: 'secrets-manager',
      key: expect.stringMatching(KEY),
      keyId: keyId(out.key as string),
      created: false,
      liveKeys: 2,
    });
    expect(await readSecret(`${prefix}/typing-keys`)).toEqual({ keys: [old, out.key] });
  });

  it('--retire keeps only the newest key', async () => {
    // Prepare
    const [a, b, c] = await Promise.all([1, 2, 3].map(async () => (await cli(['keys', 'generate'])).stdout.trim()));
    await putSecret(`${prefix}/typing-keys`, { keys: [a, b, c] });

    // Act
    const result = await cli(['keys', 'rotate', '--retire', ...sm, '--json']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      ok: true,
      secret: `${prefix}/typing-keys`,
      source: 'secrets-manager',
      retired: [keyId(a!), keyId(b!)],
      kept: keyId(c!),
      liveKeys: 1,
    });
    expect(result.stdout).not.toContain('whsec_');
    expect(await readSecret(`${prefix}/typing-keys`)).toEqual({ keys: [c] });
  });

  it('--retire with a single key changes nothing and says so', async () => {
    // Prepare
    const key = (await cli(['keys', 'rotate', ...sm])).stdout.trim();

    // Act
    const result = await cli(['keys', 'rotate', '--retire', ...sm]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Nothing to retire: ${prefix}/typing-keys holds one key (${keyId(key)})`);
    expect(await readSecret(`${prefix}/typing-keys`)).toEqual({ keys: [key] });
  });

  it('--retire exits 3 when there are no keys yet', async () => {
    // Act
    const result = await cli(['keys', 'rotate', '--retire', ...sm, '--json']);

    // Assess
    expect(result.code).toBe(3);
    expect(result.json()).toMatchObject({
      ok: false,
      secret: `${prefix}/typing-keys`,
      error: { code: 'KEYS_NOT_FOUND' },
    });
  });

  it('exits 1 with SECRET_MALFORMED when the stored secret is not a key list', async () => {
    // Prepare
    await putSecret(`${prefix}/typing-keys`, { keys: ['hunter2'] });

    // Act
    const result = await cli(['keys', 'rotate', ...sm]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('keys[0] is not a whsec_ key');
  });

  it('exits 1 with CREDENTIALS_UNAVAILABLE when Secrets Manager cannot be reached', async () => {
    // Prepare
    const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = 'http://127.0.0.1:9';

    try {
      // Act
      const result = await cli(['keys', 'rotate', ...sm, '--json']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.json()).toMatchObject({
        ok: false,
        error: { code: 'CREDENTIALS_UNAVAILABLE', message: expect.stringContaining('GetSecretValue failed') },
      });
    } finally {
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    }
  });

  it('writes to the local file source, under the stage prefix', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'keys-'));

    // Act
    const result = await cli(
      ['keys', 'rotate', '--stage', 'qa', '--source', 'file:.local/credentials.json', '--json'],
      {
        cwd: dir,
        env: { SECRETS_PREFIX: 'ignored/because-stage-given' },
      },
    );

    // Assess
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({
      secret: 'bitrix24-typing/qa/typing-keys',
      source: `file:${join(dir, '.local/credentials.json')}`,
    });
    const file = JSON.parse(await readFile(join(dir, '.local/credentials.json'), 'utf8')) as Record<string, unknown>;
    expect(file['bitrix24-typing/qa/typing-keys']).toEqual({ keys: [result.json().key] });
  });

  it('takes the source and prefix from CREDENTIALS_SOURCE and SECRETS_PREFIX', async () => {
    // Act
    const result = await cli(['keys', 'rotate', '--json'], {
      env: { CREDENTIALS_SOURCE: 'secrets-manager', TYPING_COALESCE_MS: '0', SECRETS_PREFIX: prefix },
    });

    // Assess
    expect(result.code).toBe(0);
    expect(await readSecret(`${prefix}/typing-keys`)).toEqual({ keys: [result.json().key] });
  });
});
