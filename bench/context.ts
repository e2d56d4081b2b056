/**
 * What every stage of the suite shares: the service as serverless.yml resolves it, the bundles built so far,
 * one moto server with the signing keys and the shared-state table, and a fast loopback portal. Stages start
 * more portals and containers through it, and it stops them all when the run ends.
 */
import type { BuildOptions } from 'esbuild';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startMoto, type MotoServer } from '../devtools/moto.js';
import { startSerialProxy } from '../devtools/serial-proxy.js';
import { loadServiceConfig, serverlessEsbuildOptions, type BuiltBundle, type ServiceConfig } from './bundles.js';
import type { ColdVariant } from './cold-start.js';
import { AWS_ENV, lambdaEnv, startContainer, type Container } from './container.js';
import type { Options } from './options.js';
import { seedKeys, seedPortal, type PortalLimits, type SeededPortal } from './seed.js';

/** A portal rate limit far above anything a stage sends: for the stages that measure time, not budget. */
export const UNLIMITED = { burst: 1_000_000_000, drainPerSecond: 1_000_000_000 };

/** The shared-state table every container of the run uses, as a deployed stage always has one. */
const STATE_TABLE = 'bitrix24-typing-bench-state';

/**
 * A state call's time limit for containers whose DynamoDB requests wait in the serialising proxy's queue: a
 * burst's hundreds of requests queue behind one another at moto for seconds, where DynamoDB serves items in
 * parallel in milliseconds (what the deployed 250 ms is sized for). Past the limit a container answers from
 * its own memory, which would measure the emulator's queue instead of the shared state.
 */
const QUEUED_STATE_CALL_TIMEOUT_MS = '5000';

/**
 * How a stage's container differs from the function as deployed: another Secrets Manager or DynamoDB endpoint
 * (by default DynamoDB is moto behind the serialising proxy, see `stateEndpoint`), more env.
 */
export interface FunctionEnv {
  secretsEndpoint?: string;
  dynamodbEndpoint?: string;
  /** Whether DynamoDB requests wait in the serialising proxy's queue: true by default, false with an endpoint. */
  queued?: boolean;
  env?: Record<string, string>;
}

export interface BenchContext {
  root: string;
  options: Options;
  say(line: string): void;
  service: ServiceConfig;
  /** The esbuild options serverless-esbuild derives from serverless.yml. */
  esbuildOptions: BuildOptions;
  /** Filled by the bundle stages. */
  bundles: { functions: Record<string, BuiltBundle>; baselines: Record<string, BuiltBundle>; variants: ColdVariant[] };
  /** The typing function's environment from serverless.yml. */
  typingEnv: Record<string, string>;
  moto: MotoServer;
  /** STATE_TABLE, created on moto from serverless.yml's definition as `npm start` creates it. */
  stateTable: string;
  /**
   * Where containers reach the table by default: moto one request at a time (devtools/serial-proxy.ts), as
   * DynamoDB applies concurrent conditional writes to one item; moto alone would let two of them pass.
   */
  stateEndpoint: string;
  /** SECRETS_PREFIX: where the keys and the portal secrets are stored. */
  prefix: string;
  /** The signing key every benchmark request carries. */
  key: string;
  fastPortal: SeededPortal;
  /** A path under .cache/bench/, kept between runs (the TLS certificate, CPU profiles). */
  cachePath(...parts: string[]): string;
  /** A path under this run's own directory (the harness, the bundles), removed when the run ends. */
  runPath(...parts: string[]): string;
  /** The file of a bundle built by the bundle stages; throws when it was not built. */
  built(kind: 'functions' | 'baselines', name: string): string;
  /** A loopback portal with a bot and its secret in moto, closed when the run ends. */
  seedPortal(limits: PortalLimits, tlsCacheDir?: string): Promise<SeededPortal>;
  /** The typing function's Lambda environment with the state table, on moto unless the input says otherwise. */
  lambdaEnv(input?: FunctionEnv): Record<string, string>;
  /** A warm container of the typing bundle, stopped when the run ends (stopping twice is harmless). */
  startContainer(input?: FunctionEnv & { nodeArgs?: string[] }): Promise<Container>;
  /** Something to close when the run ends, after everything registered later. */
  onClose(close: () => Promise<void>): void;
  close(): Promise<void>;
}

export async function openBench(
  root: string,
  runDir: string,
  options: Options,
  say: (line: string) => void,
): Promise<BenchContext> {
  say('resolving serverless.yml (osls print --stage prod)…');
  const service = loadServiceConfig(root, 'prod');
  const typingEnv = service.functions.typing?.environment;
  if (!typingEnv) throw new Error('serverless.yml has no function named typing');
  const prefix = typingEnv.SECRETS_PREFIX ?? 'bitrix24-typing/prod';
  say('starting moto and the loopback portals…');
  const closers: Array<() => Promise<void>> = [];
  const moto = await startMoto();
  closers.push(() => moto.stop());
  try {
    // Imported where it lies, not bundled into the harness: it finds serverless.yml next to itself.
    const { ensureStateTable } = (await import(
      pathToFileURL(join(root, 'scripts', 'state-table.mjs')).href
    )) as typeof import('../scripts/state-table.mjs');
    await ensureStateTable({ endpoint: moto.url, tableName: STATE_TABLE, region: AWS_ENV.AWS_REGION });
    const serial = await startSerialProxy(moto.url);
    closers.push(() => serial.close());
    const key = await seedKeys(moto.url, prefix);
    const fastPortal = await seedPortal(moto.url, prefix, key, { ...UNLIMITED, domain: 'fast.bitrix24.test' });
    closers.push(() => fastPortal.close());
    const bundles: BenchContext['bundles'] = { functions: {}, baselines: {}, variants: [] };
    const bench: BenchContext = {
      root,
      options,
      say,
      service,
      esbuildOptions: serverlessEsbuildOptions(service.esbuild),
      bundles,
      typingEnv,
      moto,
      stateTable: STATE_TABLE,
      stateEndpoint: serial.url,
      prefix,
      key,
      fastPortal,
      cachePath: (...parts) => join(root, '.cache', 'bench', ...parts),
      runPath: (...parts) => join(runDir, ...parts),
      built(kind, name) {
        const file = bundles[kind][name]?.file;
        if (!file) throw new Error(`the ${name} bundle was not built`);
        return file;
      },
      async seedPortal(limits, tlsCacheDir) {
        const seeded = await seedPortal(moto.url, prefix, key, limits, tlsCacheDir);
        closers.push(() => seeded.close());
        return seeded;
      },
      lambdaEnv: (input = {}) =>
        lambdaEnv(typingEnv, input.secretsEndpoint ?? moto.url, {
          STATE_TABLE,
          AWS_ENDPOINT_URL_DYNAMODB: input.dynamodbEndpoint ?? serial.url,
          ...((input.queued ?? !input.dynamodbEndpoint) ? { STATE_CALL_TIMEOUT_MS: QUEUED_STATE_CALL_TIMEOUT_MS } : {}),
          ...input.env,
        }),
      async startContainer(input = {}) {
        const workerFile = bench.runPath('harness', 'worker.mjs');
        const bundle = bench.built('functions', 'typing');
        const container = await startContainer(workerFile, bundle, bench.lambdaEnv(input), input.nodeArgs);
        closers.push(() => container.stop());
        return container;
      },
      onClose: (close) => closers.push(close),
      async close() {
        for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
      },
    };
    return bench;
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}
