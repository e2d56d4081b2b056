/**
 * The capacity model's AWS calls per request against a small real run: the real /typing handler in-process
 * (one warm container), its state table and secrets on moto, every AWS request counted on the wire by a
 * pass-through proxy, 10 portals × 5 requests with fresh webhook ids and one dialog each.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDynamoDBWire, type DynamoDBWire } from '../../bench/dynamodb-wire.js';
import { webhookBotOn } from '../../devtools/fixtures.js';
import { lambdaContext, signedTypingEvent } from '../../devtools/lambda.js';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { predictTypingCalls } from '../../scripts/capacity-model.mjs';
import { ensureStateTable } from '../../scripts/state-table.mjs';
import { captureLogger } from '../support/logs.js';
import { putSecret, seedTypingKeys, uniquePrefix } from '../support/secrets.js';

const PORTALS = 10;
const REQUESTS_PER_PORTAL = 5;
let portals: FakePortal[] = [];
let wire: DynamoDBWire;
let prefix: string;
let key: string;
let tableName: string;

beforeAll(async () => {
  const moto = inject('motoUrl');
  tableName = (await ensureStateTable({ endpoint: moto, tableName: `capacity-${randomUUID()}` })).tableName;
  prefix = uniquePrefix();
  [key] = (await seedTypingKeys(prefix)) as [string];
  portals = await Promise.all(
    Array.from({ length: PORTALS }, (_, i) => startPortal({ domain: `p${i}.bitrix24.test` })),
  );
  for (const portal of portals) await putSecret(`${prefix}/portals/${portal.domain}`, webhookBotOn(portal, 39).secret);
  wire = await startDynamoDBWire(moto);
});
afterAll(async () => {
  await wire?.close();
  await Promise.all(portals.map((p) => p.close()));
});

describe('capacity model, AWS calls per request', () => {
  it('predicts the DynamoDB and GetSecretValue requests of 10 portals × 5 typing requests within 10%', async () => {
    // Prepare: the SDK clients resolve their endpoint on first use, so the proxy stays set through the run and, every AWS request crosses it.
    const saved = { sm: process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER, db: process.env.AWS_ENDPOINT_URL_DYNAMODB };
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = wire.url;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = wire.url;
    const deps = typingDependencies(
      {
        CREDENTIALS_SOURCE: 'secrets-manager',
        SECRETS_PREFIX: prefix,
        STATE_TABLE: tableName,
        BITRIX24_TIMEOUT_MS: '1000',
        // moto on a shared machine can take longer than the deployed 250 ms; past it the container would answer
        // from its own memory and the wire would show fewer calls than the deployed service makes.
        STATE_CALL_TIMEOUT_MS: '5000',
      },
      { logger: captureLogger().logger },
    );
    const handler = createTypingHandler(deps);
    wire.reset();
    // Act
    const statuses: number[] = [];
    for (let i = 0; i < REQUESTS_PER_PORTAL; i += 1) {
      for (const portal of portals) {
        const event = signedTypingEvent({ portal: portal.domain, dialogId: 'chat12', botId: 39 }, key);
        statuses.push(((await handler(event, lambdaContext(8_000))) as { statusCode: number }).statusCode);
      }
    }
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved.sm;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = saved.db;
    // Assess
    const count = (ops: string[]) => wire.requests.filter((r) => ops.includes(r.operation)).length;
    const counted = {
      dynamo: count(['PutItem', 'UpdateItem', 'DeleteItem', 'GetItem']),
      getSecretValue: count(['GetSecretValue']),
    };
    const predicted = predictTypingCalls({
      portals: PORTALS,
      dialogsPerPortal: 1,
      requests: PORTALS * REQUESTS_PER_PORTAL,
    });
    console.log(`capacity check: predicted ${JSON.stringify(predicted)}, counted ${JSON.stringify(counted)}`);
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(predicted).toEqual({ dynamo: 120, getSecretValue: 11 });
    expect(Math.abs(counted.dynamo - predicted.dynamo) / predicted.dynamo).toBeLessThanOrEqual(0.1);
    expect(Math.abs(counted.getSecretValue - predicted.getSecretValue) / predicted.getSecretValue).toBeLessThanOrEqual(
      0.1,
    );
  });
});
