// The loopback portal's test scene: portals closed after each test, one seeded portal, and plain fetch helpers.
import { startPortal, type FakePortal, type PortalOptions } from '../../../sandbox/portal/index.js';

const open: FakePortal[] = [];

/** A portal that `closeStartedPortals` closes; register that in the test file's afterEach. */
export async function portal(opts?: PortalOptions): Promise<FakePortal> {
  const started = await startPortal(opts);
  open.push(started);
  return started;
}

export async function closeStartedPortals(): Promise<void> {
  await Promise.all(open.splice(0).map((p) => p.close()));
}

export interface Reply {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

export async function postJson(url: string, params: Record<string, unknown>): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

export async function postForm(url: string, form: string): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

export async function getJson(url: string): Promise<Reply> {
  const res = await fetch(url);
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

/** A portal with one OAuth app owning bot 7, one webhook bot 9 and an inbound webhook. */
export async function seeded(opts?: PortalOptions) {
  const p = await portal(opts);
  p.addApp({ clientId: 'app.one', clientSecret: 's3cret' });
  p.addApp({ clientId: 'app.two', clientSecret: 'other' });
  p.addBot({ botId: 7, appClientId: 'app.one' });
  p.addBot({ botId: 9, clientId: 'hook-client-id' });
  const hook = p.addWebhook({ userId: 1, code: 'abc123' });
  const tokens = p.issueTokens('app.one');
  return { p, hook, tokens };
}
