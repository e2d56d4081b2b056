/**
 * The multi-process harness of the scale-out suite: each Lambda container is an OS process of its own
 * (container.ts, bundled once per file) running one function's real handler, so nothing is shared but Secrets
 * Manager (moto), the state table (moto, through the serialising proxy) and the loopback portal. A file calls
 * `useContainers()` once.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, beforeAll } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
// One bundle per test file's worker: two files bundling to one path at once would race.
const bundle = join(process.cwd(), '.cache', 'scale-out', `container-${process.pid}.mjs`);
const children = new Set<ChildProcessWithoutNullStreams>();

/** Bundles the container once for the file, and ends every container a test started. */
export function useContainers(): void {
  beforeAll(async () => {
    mkdirSync(dirname(bundle), { recursive: true });
    await build({
      entryPoints: [join(here, 'container.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
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
}

export interface ContainerResult {
  status: number;
  body: string;
  firedAt: number;
  elapsedMs: number;
  pid: number;
  /** The service's own JSON log lines written during this invocation. */
  logs: Array<Record<string, unknown>>;
}

export interface Container {
  pid: number;
  fire(fireAt: number, event: APIGatewayProxyEventV2): Promise<ContainerResult>;
  /** Ends stdin: the process exits once its invocations have answered. */
  close(): void;
}

export async function startContainer(env: NodeJS.ProcessEnv): Promise<Container> {
  const child = spawn(process.execPath, [bundle], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const waiting: Array<{ resolve: (result: ContainerResult) => void; reject: (error: Error) => void }> = [];
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
      waiting.shift()?.resolve({ ...(record as unknown as ContainerResult), logs });
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
        (timer = setTimeout(() => reject(new Error(`container ${child.pid} not ready: ${stderr}`)), 30_000)),
    ),
  ]).finally(() => clearTimeout(timer));
  return {
    pid: child.pid ?? 0,
    fire(fireAt, event) {
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        child.stdin.write(JSON.stringify({ fireAt, event }) + '\n');
      });
    },
    close: () => child.stdin.end(),
  };
}

/** Starts `count` containers with one environment; they start side by side, as Lambda scales out. */
export function startContainers(count: number, env: NodeJS.ProcessEnv): Promise<Container[]> {
  return Promise.all(Array.from({ length: count }, () => startContainer(env)));
}

/** Hands each container its event, all to be invoked at one instant a little ahead. */
export function fireAtOnce(containers: Container[], eventOf: (index: number) => APIGatewayProxyEventV2) {
  const fireAt = Date.now() + 200;
  return Promise.all(containers.map((container, index) => container.fire(fireAt, eventOf(index))));
}
