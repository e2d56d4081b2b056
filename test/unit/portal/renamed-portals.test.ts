import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRestClient } from '../../../lib/bitrix24/rest-client.js';
import { Deadline } from '../../../lib/deadline/index.js';
import {
  Credentials,
  createPortalClient,
  upstreamFailure,
  withRenamedPortals,
  type PortalCredentials,
} from '../../../lib/portal/index.js';
import { startPortal, type FakePortal } from '../../../sandbox/portal/index.js';
import { webhookBotOn } from '../../../devtools/fixtures.js';
import { captureLogger } from '../../support/logs.js';
import { MemoryStore } from '../../support/memory-store.js';

/**
 * A renamed portal's old address answers 302 to its new one. The redirect is never followed as such: the call
 * is made again only with the credentials stored for the named host, and only when they are the same portal's.
 */
const PREFIX = 'bitrix24-typing/test';
const METHOD = 'imbot.chat.sendTyping';

let portal: FakePortal;
let elsewhere: { server: Server; url: string; requests: number };
beforeEach(async () => {
  portal = await startPortal({ domain: 'new.bitrix24.test' });
  const server = createServer((_req, res) => {
    elsewhere.requests += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"result":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  elsewhere = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: 0 };
});
afterEach(async () => {
  await portal.close();
  await new Promise((resolve) => elsewhere.server.close(resolve));
});

/** The portal's credentials under its old name, whose address now answers 302 to `location`. */
function oldAddress(location: string, memberId = portal.memberId) {
  const bot = webhookBotOn(portal, 39);
  const old: PortalCredentials = {
    domain: 'old.bitrix24.test',
    memberId,
    botId: 39,
    webhook: { url: `${portal.url}/rest/1/oldcode/`, clientId: bot.clientId },
  };
  portal.script('*', [{ status: 302, body: '', headers: { location } }]);
  return { old, renamed: { ...bot.secret, domain: 'new.bitrix24.test' } };
}

async function setUp(stored: PortalCredentials[]) {
  const store = new MemoryStore();
  for (const secret of stored) store.values.set(`${PREFIX}/portals/${secret.domain}`, JSON.stringify(secret));
  const capture = captureLogger();
  // Loopback endpoints are allowed here as the sandbox allows them (a variable, whatever the options' type).
  const options = { ttlMs: 60_000, staleMs: 0, allowLoopbackEndpoints: true };
  const credentials = new Credentials(store, PREFIX, capture.logger, options);
  const rest = createRestClient({ timeoutMs: 2_000, maxAttempts: 1 });
  const client = createPortalClient({
    rest,
    credentials,
    logger: capture.logger,
    timeoutMs: 2_000,
    oauthServer: portal.url,
  });
  return { client: withRenamedPortals(client, credentials, capture.logger), records: capture.records };
}

const call = (client: Awaited<ReturnType<typeof setUp>>['client'], portalCredentials: PortalCredentials) =>
  client
    .call(
      portalCredentials,
      METHOD,
      { BOT_ID: 39, DIALOG_ID: '27', CLIENT_ID: portalCredentials.webhook?.clientId },
      Deadline.in(3_000),
    )
    .then(
      (out) => ({ ok: true as const, attempts: out.attempts }),
      (error: unknown) => ({ ok: false as const, error }),
    );

describe('withRenamedPortals', () => {
  it('calls the verified new domain with its stored credentials when the old address redirects there', async () => {
    // Prepare: old behaviour was a NETWORK_ERROR ("unexpected redirect") on every call.
    const { old, renamed } = oldAddress(`https://new.bitrix24.test/rest/1/oldcode/${METHOD}.json`);
    const { client, records } = await setUp([old, renamed]);

    // Act
    const out = await call(client, old);

    // Assess
    expect(out.ok).toBe(true);
    expect(portal.typingCalls()).toHaveLength(1);
    expect(portal.typingCalls()[0]?.params).toMatchObject({ BOT_ID: 39, DIALOG_ID: '27' });
    expect(records().find((r) => r.message === 'portal renamed: calling its verified new domain')).toMatchObject({
      portal: 'old.bitrix24.test',
      renamedTo: 'new.bitrix24.test',
    });
  });

  it('never follows a redirect to a host with no stored portal: PORTAL_MOVED, nothing sent there', async () => {
    // Prepare
    const { old } = oldAddress(`${elsewhere.url}/rest/1/oldcode/${METHOD}.json`);
    const { client, records } = await setUp([old]);

    // Act
    const out = await call(client, old);

    // Assess
    expect(out.ok).toBe(false);
    expect(out.ok === false && upstreamFailure(out.error as never)).toMatchObject({
      code: 'UPSTREAM_ERROR',
      status: 502,
      upstreamCode: 'PORTAL_MOVED',
    });
    expect(elsewhere.requests).toBe(0);
    expect(records().find((r) => r.message?.toString().includes('redirect to an unverified host'))).toMatchObject({
      level: 'warn',
      portal: 'old.bitrix24.test',
      location: '127.0.0.1',
    });
  });

  it("does not follow a redirect to another portal's stored domain (another member id)", async () => {
    // Prepare
    const { old, renamed } = oldAddress(`https://new.bitrix24.test/rest/1/oldcode/${METHOD}.json`);
    const { client } = await setUp([old, { ...renamed, memberId: 'ffffffffffffffffffffffffffffffff' }]);

    // Act
    const out = await call(client, old);

    // Assess
    expect(out.ok).toBe(false);
    expect(portal.typingCalls()).toHaveLength(0);
  });
});
