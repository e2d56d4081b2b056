import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitFor } from '../../devtools/net.js';

export interface OfflineService {
  url: string;
  /** Everything the service printed (its log lines included), for leak scans. */
  output: () => string;
  stop(): Promise<void>;
}

/**
 * Starts `npm start` (serverless-offline) on free loopback ports with the given environment, and waits until
 * it serves requests. Each test file that needs the running service starts its own.
 */
export async function startOffline(env: Record<string, string>): Promise<OfflineService> {
  const [port, lambdaPort] = [await freePort(), await freePort()];
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['scripts/start.mjs'], {
    env: { ...process.env, PORT: String(port), LAMBDA_PORT: String(lambdaPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`serverless-offline exited:\n${output}`);
      return output.includes('Server ready');
    },
    90_000,
    'serverless-offline to start',
  );
  return {
    url,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        // The whole process group: npx, osls and its worker threads.
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          resolve();
        }
      }),
  };
}
