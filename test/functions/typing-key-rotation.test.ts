import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTypingHandler, typingDependencies } from '../../functions/typing.js';
import { Credentials } from '../../lib/portal/index.js';
import { generateSigningKey } from '../../lib/signing/standard-webhooks.js';
import { startPortal, type FakePortal } from '../../sandbox/portal/index.js';
import { webhookBotOn } from '../../devtools/fixtures.js';
import { lambdaContext, signedTypingEvent } from '../../devtools/lambda.js';
import { captureLogger } from '../support/logs.js';
import { MemoryStore } from '../support/memory-store.js';

// When a change to <prefix>/typing-keys reaches a warm container: keys are cached for SECRETS_CACHE_TTL_SECONDS
// (300 s), but a signature that matches none of them makes a bounded re-read.

const PREFIX = 'rot/test';
let portal: FakePortal;
beforeAll(async () => {
  portal = await startPortal();
});
afterAll(() => portal.close());

function container(keys: string[], clock = { now: Date.now() }) {
  const store = new MemoryStore();
  store.values.set(`${PREFIX}/typing-keys`, JSON.stringify({ keys }));
  store.values.set(`${PREFIX}/portals/${portal.domain}`, JSON.stringify(webhookBotOn(portal, 39).secret));
  const { logger } = captureLogger();
  const credentials = new Credentials(store, PREFIX, logger, {
    ttlMs: 300_000,
    staleMs: 900_000,
    allowLoopbackEndpoints: true,
    now: () => clock.now,
  });
  const deps = typingDependencies(
    { CREDENTIALS_SOURCE: 'secrets-manager', TYPING_COALESCE_MS: '0', SECRETS_PREFIX: PREFIX },
    { logger, credentials },
  );
  const handler = createTypingHandler(deps);
  const keyReads = () => store.names.filter((name) => name === `${PREFIX}/typing-keys`).length;
  const send = async (key: string) =>
    (await handler(signedTypingEvent({ portal: portal.domain, dialogId: '27' }, key), lambdaContext())).statusCode;
  const storeKeys = (next: string[]) => store.values.set(`${PREFIX}/typing-keys`, JSON.stringify({ keys: next }));
  return { send, keyReads, storeKeys };
}

describe('a key rotated in', () => {
  it('is accepted by a warm container at once, with one extra read of the keys', async () => {
    // Prepare
    const [oldKey, newKey] = [generateSigningKey(), generateSigningKey()];
    const warm = container([oldKey]);
    await warm.send(oldKey);
    warm.storeKeys([oldKey, newKey]);

    // Act
    const statuses = [await warm.send(newKey), await warm.send(newKey), await warm.send(oldKey)];

    // Assess
    expect(statuses).toEqual([200, 200, 200]);
    expect(warm.keyReads()).toBe(2);
  });
});

describe('signatures that match no key', () => {
  it('re-read the keys at most once per 5 s per container, however many arrive', async () => {
    // Prepare
    const key = generateSigningKey();
    const warm = container([key]);
    await warm.send(key);

    // Act
    const statuses = await Promise.all(Array.from({ length: 20 }, () => warm.send(generateSigningKey())));

    // Assess
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(warm.keyReads()).toBe(2);
  });
});

describe('a retired key', () => {
  it('keeps working in a warm container until its cached keys expire (300 s), then is refused', async () => {
    // Prepare
    const [leaked, kept] = [generateSigningKey(), generateSigningKey()];
    const clock = { now: Date.now() };
    const warm = container([leaked, kept], clock);
    await warm.send(kept);
    warm.storeKeys([kept]);

    // Act
    const beforeExpiry = await warm.send(leaked);
    clock.now += 301_000;
    const afterExpiry = await warm.send(leaked);

    // Assess
    expect([beforeExpiry, afterExpiry]).toEqual([200, 401]);
  });
});
