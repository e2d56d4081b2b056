import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

export interface BuiltCliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stderr without the one-line notice an older Node.js than the project requires gets. */
  notes: string;
  json: () => Record<string, unknown>;
}

export interface BuiltCli {
  path: string;
  run(
    args: string[],
    options?: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number },
  ): Promise<BuiltCliRun>;
  remove(): Promise<void>;
}

/**
 * The CLI bundled as `npm run build` bundles it (same esbuild options), run as a real process. It sits in .cache/
 * at the project root, one level down as dist/cli.mjs does, so its built-in fixtures resolve the same way.
 * `env` is laid over this process's environment (which the test setup points at moto); undefined removes a name.
 */
export async function buildCli(): Promise<BuiltCli> {
  const path = join(process.cwd(), '.cache', `cli-${randomBytes(4).toString('hex')}.mjs`);
  await build({
    entryPoints: ['bin/cli.ts'],
    outfile: path,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    logLevel: 'warning',
  });
  return {
    path,
    run: (args, options = {}) =>
      new Promise((resolve, reject) => {
        const env: Record<string, string | undefined> = { ...process.env, ...options.env };
        for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
        const child = spawn(process.execPath, [path, ...args], {
          env,
          cwd: options.cwd ?? process.cwd(),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          const notes = stderr
            .split('\n')
            .filter((line) => !line.startsWith('warning: bitrix24-typing requires Node.js'))
            .join('\n');
          resolve({ code, stdout, stderr, notes, json: () => JSON.parse(stdout) as Record<string, unknown> });
        });
      }),
    remove: () => rm(path, { force: true }),
  };
}
