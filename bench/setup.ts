import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { startPortal, type FakePortal } from '../sandbox/bitrix24-portal.js';
import { generateSigningKey } from '../lib/signing/standard-webhooks.js';
import { webhookBotOn } from '../test/support/fixtures.js';
import type { TypingTarget } from './events.js';
import type { Command } from './worker.js';

export const AWS_ENV = {
  AWS_REGION: 'eu-central-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
};

/** The signing keys of `/typing`, stored once per run under the service's prefix. */
export async function seedKeys(motoUrl: string, prefix: string): Promise<string> {
  const key = generateSigningKey();
  const client = new SecretsManagerClient(awsClientConfig(motoUrl));
  await client.send(new CreateSecretCommand({ Name: `${prefix}/typing-keys`, SecretString: JSON.stringify({ keys: [key] }) }));
  client.destroy();
  return key;
}

/** A loopback portal with one webhook bot, and its portal secret in moto. */
export interface Seeded {
  portal: FakePortal;
  front: TlsFront | undefined;
  target: TypingTarget;
  close(): Promise<void>;
}

export async function seedPortal(
  motoUrl: string,
  prefix: string,
  key: string,
  portalOptions: { burst: number; drainPerSecond: number; domain: string },
  /** With a directory for the certificate: the secret's webhook URL goes through an HTTPS front. */
  tlsCacheDir?: string,
): Promise<Seeded> {
  const portal = await startPortal(portalOptions);
  const bot = webhookBotOn(portal, 39);
  let front: TlsFront | undefined;
  if (tlsCacheDir) {
    front = await startTlsFront(portal.url, tlsCacheDir);
    bot.secret.webhook!.url = bot.secret.webhook!.url.replace(portal.url, front.url);
  }
  const client = new SecretsManagerClient(awsClientConfig(motoUrl));
  await client.send(new CreateSecretCommand({ Name: `${prefix}/portals/${portal.domain}`, SecretString: JSON.stringify(bot.secret) }));
  client.destroy();
  return {
    portal,
    front,
    target: { key, portal: portal.domain, botId: 39, webhookUrl: bot.secret.webhook!.url, clientId: bot.clientId },
    close: async () => {
      await front?.close();
      await portal.close();
    },
  };
}

function awsClientConfig(endpoint: string) {
  return {
    endpoint,
    region: AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: AWS_ENV.AWS_SECRET_ACCESS_KEY, sessionToken: AWS_ENV.AWS_SESSION_TOKEN },
  };
}

/**
 * The environment a function sees on Lambda (serverless.yml's provider and function environment, resolved by
 * osls), pointed at moto. Nothing from this shell leaks in but PATH.
 */
export function lambdaEnv(functionEnv: Record<string, string>, secretsEndpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    ...functionEnv,
    ...AWS_ENV,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsEndpoint,
    AWS_LAMBDA_FUNCTION_NAME: 'bitrix24-typing-bench',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    ...extra,
  };
}

/** A warm container to drive over IPC; its stdout (the function's log lines) is counted and dropped. */
export interface Worker {
  run<T>(command: Command): Promise<T>;
  logLines(): number;
  stop(): Promise<void>;
}

export async function startWorker(workerFile: string, bundleFile: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Worker> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, workerFile, pathToFileURL(bundleFile).href], {
    env,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let lines = 0;
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 10) lines += 1;
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const ready = new Promise<void>((resolve, reject) => {
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
  await ready;
  return {
    run<T>(command: Command) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, command });
      });
    },
    logLines: () => lines,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGTERM'), 3_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.send({ exit: true });
      }),
  };
}

/**
 * A pass-through in front of moto that counts GetSecretValue per SecretId, read off the wire (the
 * `X-Amz-Target` header and the JSON body), so the count does not depend on the code being measured.
 */
export interface CountingProxy {
  url: string;
  counts(): Record<string, number>;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  let counts: Record<string, number> = {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (String(req.headers['x-amz-target'] ?? '').endsWith('.GetSecretValue')) {
        let id = '?';
        try {
          id = String((JSON.parse(body.toString('utf8')) as { SecretId?: string }).SecretId);
        } catch {
          // count it anyway, under '?'
        }
        counts[id] = (counts[id] ?? 0) + 1;
      }
      const forward = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    reset: () => {
      counts = {};
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * An HTTPS front for the loopback portal. `@bitrix24/b24jssdk` always calls `https://<domain>/rest/...`, so
 * the cold-start stage sends every variant through this front alike (real portals are HTTPS too). The
 * certificate is a throwaway one for 127.0.0.1, made with openssl once into .cache/; children trust it
 * through NODE_EXTRA_CA_CERTS.
 */
export interface TlsFront {
  url: string;
  caFile: string;
  close(): Promise<void>;
}

export async function startTlsFront(upstream: string, cacheDir: string): Promise<TlsFront> {
  mkdirSync(cacheDir, { recursive: true });
  const keyFile = join(cacheDir, 'loopback-key.pem');
  const certFile = join(cacheDir, 'loopback-cert.pem');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
    ], { stdio: 'ignore' });
  }
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const server = createTlsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => {
    const forward = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caFile: certFile,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
