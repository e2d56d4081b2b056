/**
 * Lambda containers as OS processes of their own, for the suites whose point is that containers share nothing
 * but the AWS emulator and the loopback portal. A suite's container script (built on container-loop.ts) is
 * bundled once per test file; each process speaks JSON lines: it writes `{"container":"ready"}`, then one
 * `{"container":"result",...}` per message written to its stdin, and exits once stdin is closed and every
 * invocation has answered. Any other line on its stdout is one of the service's own log lines.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterEach, beforeAll } from 'vitest';

/** What every invocation's result line carries, besides the suite's own fields. */
export interface InvocationResult {
  status: number;
  body: string;
  firedAt: number;
  elapsedMs: number;
  pid: number;
  /** The service's own JSON log lines written during this invocation. */
  logs: Array<Record<string, unknown>>;
}

export interface ProcessContainer<M, R> {
  pid: number;
  /** Hands the process one invocation; resolves with its result line. */
  send(message: M): Promise<R>;
  /** Ends stdin: the process exits once its invocations have answered. */
  close(): void;
  /** SIGKILL, as when Lambda freezes or recycles a container mid-invocation; resolves once it has exited. */
  kill(): Promise<void>;
}

const children = new Set<ChildProcessWithoutNullStreams>();

/**
 * Bundles `entry` once for the test file (one bundle per worker under .cache/<folder>: two files bundling to one
 * path at once would race), and ends every process a test started. Returns where the bundle is.
 */
export function useContainerBundle(entry: string, folder: string): string {
  const bundle = join(process.cwd(), '.cache', folder, `container-${process.pid}.mjs`);
  beforeAll(async () => {
    mkdirSync(dirname(bundle), { recursive: true });
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: bundle,
      logLevel: 'error',
      // As in the deployed bundle (serverless.yml): the AWS SDK still calls require() for Node built-ins.
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
  });
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
    children.clear();
  });
  return bundle;
}

/** Starts one container process from `bundle` and waits until it is ready (its module loaded). */
export async function startProcessContainer<M, R extends InvocationResult>(
  bundle: string,
  env: NodeJS.ProcessEnv,
  readyTimeoutMs: number,
): Promise<ProcessContainer<M, R>> {
  const child = spawn(process.execPath, [bundle], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const waiting: Array<{ resolve: (result: R) => void; reject: (error: Error) => void }> = [];
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      logs.push({ raw: line });
      return;
    }
    if (record.container === 'ready') onReady();
    else if (record.container === 'result') {
      waiting.shift()?.resolve({ ...(record as unknown as R), logs });
      logs = [];
    } else logs.push(record);
  });
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => {
      const error = new Error(`container ${child.pid} exited (${code}): ${stderr}`);
      for (const waiter of waiting.splice(0)) waiter.reject(error);
      reject(error);
    }),
  );
  exited.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    ready,
    exited,
    new Promise(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`container ${child.pid} not ready: ${stderr}`)), readyTimeoutMs)),
    ),
  ]).finally(() => clearTimeout(timer));
  return {
    pid: child.pid ?? 0,
    send(message) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(JSON.stringify(message) + '\n');
      });
    },
    close: () => child.stdin.end(),
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
