import { afterEach, describe, expect, it } from 'vitest';
import { closeStartedPortals, postJson, seeded } from './portal-scene.js';

afterEach(closeStartedPortals);

describe('scripted responses', () => {
  it('serves scripted answers in order for the named method, then resumes normal handling', async () => {
    // Prepare
    const { p, tokens } = await seeded();
    p.script('imbot.chat.sendTyping', [
      { status: 500, body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'boom' } },
      { status: 502, body: '<html>Bad Gateway</html>', headers: { 'Content-Type': 'text/html' } },
    ]);
    const call = () =>
      fetch(`${p.clientEndpoint}imbot.chat.sendTyping`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: tokens.accessToken, DIALOG_ID: '27' }),
      });

    // Act
    const first = await call();
    const second = await call();
    const third = await call();

    // Assess
    expect(first.status).toBe(500);
    expect(second.status).toBe(502);
    expect(await second.text()).toBe('<html>Bad Gateway</html>');
    expect(second.headers.get('content-type')).toBe('text/html');
    expect(third.status).toBe(200);
    expect(p.calls.map((c) => [c.status, c.error])).toEqual([
      [500, 'INTERNAL_SERVER_ERROR'],
      [502, undefined],
      [200, undefined],
    ]);
  });

  it("applies '*' scripts to any method", async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('*', [{ status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' } }]);

    // Act
    const reply = await postJson(`${hook}app.info`, {});

    // Assess
    expect(reply.status).toBe(503);
  });

  it('resets the connection without answering', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('profile', [{ reset: true }]);

    // Act
    const attempt = fetch(`${hook}profile`, { method: 'POST' });

    // Assess: undici reports a dropped socket as "fetch failed" caused by "other side closed"
    await expect(attempt).rejects.toMatchObject({
      name: 'TypeError',
      message: 'fetch failed',
      cause: { code: 'UND_ERR_SOCKET' },
    });
    expect(p.calls[0]).toMatchObject({ status: 0, error: 'ECONNRESET' });
  });

  it('answers a slow scripted call late without holding up other requests', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('app.info', [{ delayMs: 400, then: { status: 200, body: { result: 'slow' } } }]);

    // Act
    const started = Date.now();
    const slow = postJson(`${hook}app.info`, {}).then((r) => ({ r, at: Date.now() - started }));
    const fast = await postJson(`${hook}profile`, {});
    const fastAt = Date.now() - started;
    const { r, at } = await slow;

    // Assess
    expect(fast.status).toBe(200);
    expect(fastAt).toBeLessThan(300);
    expect(r.body.result).toBe('slow');
    expect(at).toBeGreaterThanOrEqual(390);
  });

  it('redirects to the Location it was given, as the old address of a renamed portal does', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('profile', [{ redirect: 'https://renamed.bitrix24.test/rest/1/abc123/profile', status: 307 }]);

    // Act
    const reply = await fetch(`${hook}profile`, { method: 'POST', redirect: 'manual' });

    // Assess
    expect(reply.status).toBe(307);
    expect(reply.headers.get('location')).toBe('https://renamed.bitrix24.test/rest/1/abc123/profile');
    expect(p.calls.map((c) => [c.method, c.status])).toEqual([['profile', 307]]);
  });

  it('streams a body slowly and without a Content-Length: headers at once, the last byte after every piece', async () => {
    // Prepare
    const { hook, p } = await seeded();
    p.script('app.info', [{ status: 200, body: { result: 'slow' }, stream: { chunks: 4, everyMs: 100 } }]);

    // Act
    const started = Date.now();
    const reply = await fetch(`${hook}app.info`, { method: 'POST' });
    const headersAt = Date.now() - started;
    const text = await reply.text();
    const bodyAt = Date.now() - started;

    // Assess
    expect(reply.headers.get('content-length')).toBe(null);
    expect(reply.headers.get('transfer-encoding')).toBe('chunked');
    expect(headersAt).toBeLessThan(90);
    expect(bodyAt).toBeGreaterThanOrEqual(490);
    expect(text).toBe('{"result":"slow"}');
  });

  it('notes an access token sent in the query string as a defect, and one sent in the body as none', async () => {
    // Prepare
    const { p, tokens } = await seeded();

    // Act
    await fetch(`${p.clientEndpoint}profile?auth=${tokens.accessToken}`, { method: 'POST' });
    await postJson(`${p.clientEndpoint}profile`, { auth: tokens.accessToken });

    // Assess
    expect(p.calls.map((c) => [c.status, c.defects])).toEqual([
      [200, ['auth in query string']],
      [200, undefined],
    ]);
  });
});
