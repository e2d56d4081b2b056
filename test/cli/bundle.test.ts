import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedServer } from '../support/scripted-server.js';

// The CLI as `npm run build` bundles it (same esbuild options as package.json), run as a real process.
// It lives in .cache/ at the project root so that `../bin/fixtures/` resolves as it does from dist/.
const bundle = join(process.cwd(), '.cache', `cli-${randomBytes(4).toString('hex')}.mjs`);
const esbuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  logLevel: 'warning',
} as const;

beforeAll(async () => {
  await build({ ...esbuildOptions, entryPoints: ['bin/cli.ts'], outfile: bundle });
});
afterAll(async () => {
  await rm(bundle, { force: true });
});

function runBundle(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the bundled CLI as a process', () => {
  it('starts with a node shebang', async () => {
    // Act
    const text = await readFile(bundle, 'utf8');

    // Assess
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('prints help with exit code 0, and no colour into a pipe', async () => {
    // Act
    const result = await runBundle(['--help'], { FORCE_COLOR: '1' });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: bitrix24-typing <command>');
    expect(result.stdout + result.stderr).not.toContain('\u001b[');
  });

  it('exits 2 on a usage error and 3 on an unknown portal', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'bundle-'));

    // Act
    const usage = await runBundle(['keys', 'bogus']);
    const unknown = await runBundle([
      'portal',
      'check',
      '--domain',
      'nobody.bitrix24.com',
      '--source',
      `file:${join(dir, 'c.json')}`,
      '--json',
    ]);

    // Assess
    expect(usage.code).toBe(2);
    expect(unknown.code).toBe(3);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ ok: false, error: { code: 'PORTAL_UNKNOWN' } });
  });

  it('finds its built-in event fixtures', async () => {
    // Prepare
    const server = await startScriptedServer();

    try {
      // Act
      const result = await runBundle(['events', 'send', 'message-webhook-bot', '--url', server.url, '--json']);

      // Assess
      expect(result.code).toBe(0);
      expect(server.requests[0]?.body).toContain('event=ONIMBOTMESSAGEADD');
    } finally {
      await server.close();
    }
  });
});

describe('the client bundle', () => {
  it('imports nothing but node:crypto', async () => {
    // Act
    const result = await build({
      ...esbuildOptions,
      entryPoints: ['lib/client/index.ts'],
      write: false,
      metafile: true,
      outdir: 'out',
    });

    // Assess
    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
    expect([...new Set(imports)]).toEqual(['node:crypto']);
  });
});
