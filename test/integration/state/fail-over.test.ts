import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../devtools/net.js';
import { listenOnLoopback } from '../../../devtools/loopback-proxy.js';
import { sleep } from '../../../lib/deadline/index.js';
import { createSharedState, createStateClient, type SharedState } from '../../../lib/state/index.js';
import { captureLogger } from '../../support/logs.js';

const CALL_TIMEOUT_MS = 250;
/** What a call may take beyond its timeout on a loaded two-core machine. */
const SLACK_MS = 250;

/** A container whose table sits at `endpoint`, with the service's short call timeout. */
function containerAt(endpoint: string, options: { failureBackoffMs?: number } = {}) {
  const { logger, records } = captureLogger();
  const state = createSharedState({
    tableName: 'state',
    logger,
    callTimeoutMs: CALL_TIMEOUT_MS,
    client: createStateClient(CALL_TIMEOUT_MS, endpoint),
    ...options,
  });
  const warnings = () => records().filter((record) => record.level === 'warn');
  return { state, warnings };
}

async function timed<T>(call: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = Date.now();
  const result = await call();
  return { result, ms: Date.now() - started };
}

/** Every use, twice: the second answer shows the first was remembered (in this container's memory). */
async function everyUseTwice(state: SharedState) {
  const slot = { coalesceKey: 'p|39|chat1', windowMs: 10_000, budgetKey: 'p', budget: { burst: 1, perSecond: 1 } };
  let runs = 0;
  const work = async () => {
    runs += 1;
    return { statusCode: 200, body: '{"ok":true}' };
  };
  const request = { key: 'webhook-1', payloadHash: 'sha-a', remainingMs: 2_000 };
  return {
    claims: [await state.claim('delivery', 60_000), await state.claim('delivery', 60_000)],
    slots: [(await state.takeTypingSlot(slot)).kind, (await state.takeTypingSlot(slot)).kind],
    admissions: [
      (await state.admit('q', { burst: 1, perSecond: 1 })).admitted,
      (await state.admit('q', { burst: 1, perSecond: 1 })).admitted,
    ],
    idempotent: [
      (await state.runIdempotent(request, work)).kind,
      (await state.runIdempotent(request, work)).kind,
      runs,
    ],
  };
}

const MEMORY_ANSWERS = {
  claims: [true, false],
  slots: ['acquired', 'coalesced'],
  admissions: [true, false],
  idempotent: ['done', 'done', 1],
};

describe('when DynamoDB fails, each call is answered from the container’s memory', () => {
  const servers: Array<{ close(): Promise<void> }> = [];
  let down = '';
  let hanging = '';
  let throttling = '';
  const held = new Set<Socket>();

  beforeAll(async () => {
    down = `http://127.0.0.1:${await freePort()}`;
    const silent = createTcpServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    hanging = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    servers.push({
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of held) socket.destroy();
          silent.close(() => resolve());
        }),
    });
    const refusing = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate exceeded' }),
        );
      });
    });
    const listening = await listenOnLoopback(refusing);
    throttling = listening.url;
    servers.push(listening);
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  for (const [name, endpoint] of [
    ['down (nothing listens)', () => down],
    ['hanging (accepts, never answers)', () => hanging],
    ['throttling every request', () => throttling],
  ] as const) {
    it(`${name}: gives memory's answers, the first call within the timeout, and warns once`, async () => {
      // Prepare
      const { state, warnings } = containerAt(endpoint());
      // Act
      const first = await timed(() => state.claim('first', 60_000));
      const rest = await timed(() => everyUseTwice(state));
      // Assess
      expect(first.result).toBe(true);
      expect(first.ms).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
      expect(rest.result).toEqual(MEMORY_ANSWERS);
      // The failure is remembered: the calls after it do not wait on DynamoDB again.
      expect(rest.ms).toBeLessThan(SLACK_MS);
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]).toMatchObject({
        message: 'shared state unavailable: answering from this container',
        operation: 'claim',
      });
    });
  }

  it('tries DynamoDB again after the backoff, and each try is still bounded by the timeout', async () => {
    // Prepare
    const { state } = containerAt(hanging, { failureBackoffMs: 300 });
    await state.claim('first', 60_000);
    // Act
    const withinBackoff = await timed(() => state.claim('second', 60_000));
    await sleep(350);
    const afterBackoff = await timed(() => state.claim('third', 60_000));
    // Assess
    expect(withinBackoff.ms).toBeLessThan(50);
    expect(afterBackoff.ms).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS - 10);
    expect(afterBackoff.ms).toBeLessThan(CALL_TIMEOUT_MS + SLACK_MS);
    expect(afterBackoff.result).toBe(true);
  });
});
