import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, waitFor } from './net.js';

export interface MotoServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts moto's server from .venv (installed by scripts/python-env.mjs) on a free loopback port. */
export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const bin = join(process.cwd(), '.venv', 'bin', 'moto_server');
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`moto_server exited: ${stderr}`);
      const response = await fetch(`${url}/moto-api/`).catch(() => undefined);
      return response !== undefined;
    },
    30_000,
    'moto_server to answer',
  );
  return {
    url,
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
