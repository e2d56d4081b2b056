import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import {
  createSharedState,
  createStateClient,
  type SharedState,
  type SharedStateOptions,
} from '../../../lib/state/index.js';
import { ensureStateTable } from '../../../scripts/state-table.mjs';
import { captureLogger } from '../../support/logs.js';
import { startSerialProxy } from '../../../devtools/serial-proxy.js';

export interface StateTable {
  tableName: string;
  /** Where the emulated containers reach the table: moto, one request at a time (devtools/serial-proxy.ts). */
  endpoint: string;
}

/**
 * For one test file: a fresh table on the run's moto server, created from serverless.yml's definition as
 * `npm start` does, and the proxy the containers reach it through.
 */
export function useStateTable(): StateTable {
  const table = { tableName: '', endpoint: '' };
  let proxy: { url: string; close(): Promise<void> } | undefined;
  beforeAll(async () => {
    const moto = process.env.AWS_ENDPOINT_URL_DYNAMODB as string;
    table.tableName = `state-${randomUUID()}`;
    await ensureStateTable({ endpoint: moto, tableName: table.tableName, region: process.env.AWS_REGION });
    proxy = await startSerialProxy(moto);
    table.endpoint = proxy.url;
  });
  afterAll(async () => {
    await proxy?.close();
  });
  return table;
}

/** One emulated container: its own SDK client and its own memory, sharing only the table; its warnings readable. */
export function observedContainer(table: StateTable, options: Partial<SharedStateOptions> = {}) {
  const { logger, records } = captureLogger();
  const state = createSharedState({
    tableName: table.tableName,
    logger,
    callTimeoutMs: 5_000,
    client: createStateClient(5_000, table.endpoint),
    ...options,
  });
  return { state, warnings: () => records().filter((record) => record.level === 'warn') };
}

/**
 * One emulated container whose calls fail when the table failed, instead of being covered from memory unnoticed
 * (the fail-over tests use their own).
 */
export function container(table: StateTable, options: Partial<SharedStateOptions> = {}): SharedState {
  const { state, warnings } = observedContainer(table, options);
  const failIfCovered = <T>(result: T): T => {
    if (warnings().length > 0) throw new Error(`the table failed: ${JSON.stringify(warnings())}`);
    return result;
  };
  return {
    scope: state.scope,
    claim: async (...args) => failIfCovered(await state.claim(...args)),
    release: async (...args) => failIfCovered(await state.release(...args)),
    takeTypingSlot: async (...args) => failIfCovered(await state.takeTypingSlot(...args)),
    releaseTypingSlot: async (...args) => failIfCovered(await state.releaseTypingSlot(...args)),
    admit: async (...args) => failIfCovered(await state.admit(...args)),
    holdMethod: async (...args) => failIfCovered(await state.holdMethod(...args)),
    runIdempotent: async (...args) => failIfCovered(await state.runIdempotent(...args)),
  };
}

export function containers(table: StateTable, count: number, options: Partial<SharedStateOptions> = {}) {
  return Array.from({ length: count }, () => container(table, options));
}

/** A clock the test moves by hand, so budget arithmetic is exact whatever the machine's speed. */
export function manualClock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}
