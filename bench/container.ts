/**
 * A warm Lambda container for the bench: a child process (bench/worker.ts) that imports a function bundle with
 * the function's environment and runs the scenarios the parent sends it over IPC.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { Command } from './worker.js';

/** Dummy credentials moto accepts; nothing the bench starts can reach real AWS with them. */
export const AWS_ENV = {
  AWS_REGION: 'eu-central-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
};

/**
 * The environment a function sees on Lambda (serverless.yml's provider and function environment, resolved by
 * osls), pointed at moto. Nothing from this shell leaks in but PATH.
 */
export function lambdaEnv(
  functionEnv: Record<string, string>,
  secretsEndpoint: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    ...functionEnv,
    ...AWS_ENV,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
    AWS_LAMBDA_FUNCTION_NAME: 'bitrix24-typing-bench',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    // The bench's portals and OAuth server are on loopback, which a function on Lambda refuses by default.
    ALLOW_LOOPBACK_ENDPOINTS: 'true',
    ...extra,
  };
}

/** What lib/state logs (at most once a minute) when it answers from a container's memory. */
const STATE_FALLBACK = 'shared state unavailable';

/** A warm container to drive over IPC; its stdout (the function's log lines) is counted and dropped. */
export interface Container {
  run<T>(command: Command): Promise<T>;
  logLines(): number;
  /** Log lines saying the state table did not answer and this container answered from its own memory. */
  stateFallbacks(): number;
  stop(): Promise<void>;
}

export async function startContainer(
  workerFile: string,
  bundleFile: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<Container> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, workerFile, pathToFileURL(bundleFile).href], {
    env,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let lines = 0;
  let fallbacks = 0;
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 10) lines += 1;
    const text = partial + chunk.toString('utf8');
    const cut = text.lastIndexOf('\n');
    partial = text.slice(cut + 1);
    if (cut >= 0) fallbacks += text.slice(0, cut).split(STATE_FALLBACK).length - 1;
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
    child.on('message', (message: { ready?: boolean; id?: number; result?: unknown; error?: string }) => {
      if (message.ready) return resolve();
      const waiter = pending.get(message.id ?? -1);
      if (!waiter) return;
      pending.delete(message.id!);
      if (message.error) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
  });
  return {
    run<T>(command: Command) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, command });
      });
    },
    logLines: () => lines,
    stateFallbacks: () => fallbacks,
    stop: () => stopChild(child),
  };
}

/** Asks the child to exit normally (so `--cpu-prof` writes its profile), and kills it if it does not. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGTERM'), 3_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.send({ exit: true });
  });
}
