import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Bitrix24Error } from '../../../lib/bitrix24/errors.js';
import { createRestClient } from '../../../lib/bitrix24/rest-client.js';
import { HttpBodyError, nodeHttpTransport, type HttpCall } from '../../../lib/bitrix24/http-transport.js';
import { refreshTokens } from '../../../lib/bitrix24/oauth.js';
import { Deadline } from '../../../lib/deadline/index.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A loopback server answering with `answer`, and the requests it saw. */
async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const call = (url: string, overrides: Partial<HttpCall> = {}): HttpCall => ({
  method: 'POST',
  url,
  headers: { 'content-type': 'application/json' },
  body: '{"BOT_ID":39}',
  timeoutMs: 2_000,
  maxBytes: 1024,
  ...overrides,
});

describe('nodeHttpTransport: the portal and OAuth calls', () => {
  it('sends the body and headers, asks for an uncompressed answer, and returns status, headers and text', async () => {
    // Prepare
    const portal = await serve((_req, res) => {
      res.setHeader('retry-after', '3');
      res.end('{"result":true}');
    });

    // Act
    const answer = await nodeHttpTransport(call(`${portal.url}/rest/imbot.chat.sendTyping.json`));

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.header('retry-after')).toBe('3');
    expect(answer.text).toBe('{"result":true}');
    expect(portal.seen).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/rest/imbot.chat.sendTyping.json',
        body: '{"BOT_ID":39}',
        headers: expect.objectContaining({ 'content-type': 'application/json', 'accept-encoding': 'identity' }),
      }),
    ]);
  });

  it('returns a redirect as the answer and never follows it', async () => {
    // Prepare
    const elsewhere = await serve((_req, res) => res.end('{"result":true}'));
    const portal = await serve((_req, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/rest/imbot.chat.sendTyping.json` });
      res.end();
    });

    // Act
    const answer = await nodeHttpTransport(call(`${portal.url}/rest/imbot.chat.sendTyping.json`));

    // Assess
    expect(answer.status).toBe(307);
    expect(answer.header('location')).toBe(`${elsewhere.url}/rest/imbot.chat.sendTyping.json`);
    expect(elsewhere.seen).toHaveLength(0);
  });

  it('fails with the socket code when the connection is dropped before any answer', async () => {
    // Prepare
    const portal = await serve((req) => req.socket.destroy());

    // Act
    const error = await nodeHttpTransport(call(portal.url)).catch((e: unknown) => e);

    // Assess: the REST client resends on this code, as the request never ran to an answer
    expect(error).toMatchObject({ code: 'ECONNRESET' });
  });

  it('fails as TimeoutError with no answer in time, and as HttpBodyError with the status when the body is late', async () => {
    // Prepare
    const silent = await serve(() => undefined);
    const slowBody = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"result":');
    });

    // Act
    const beforeHeaders = await nodeHttpTransport(call(silent.url, { timeoutMs: 200 })).catch((e: unknown) => e);
    const duringBody = await nodeHttpTransport(call(slowBody.url, { timeoutMs: 200 })).catch((e: unknown) => e);

    // Assess
    expect(beforeHeaders).toMatchObject({ name: 'TimeoutError' });
    expect(duringBody).toBeInstanceOf(HttpBodyError);
    expect(duringBody).toMatchObject({ status: 200, reason: 'timeout', cause: { name: 'TimeoutError' } });
  });

  it('fails as HttpBodyError "interrupted" with the status when the connection drops mid-body', async () => {
    // Prepare
    const portal = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '15' });
      res.write('{"result":', () => res.socket?.destroy());
    });

    // Act
    const error = await nodeHttpTransport(call(portal.url)).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(HttpBodyError);
    expect(error).toMatchObject({ status: 200, reason: 'interrupted' });
  });

  it('settles a redirect at its status line, whatever its body, so a moved portal is told at once', async () => {
    // Prepare: a 302 declaring 2 MB of body it never sends
    const portal = await serve((_req, res) => {
      res.writeHead(302, { location: 'https://new.bitrix24.com/rest/', 'content-length': '2000000' });
      res.write('<html>');
    });

    // Act
    const started = Date.now();
    const answer = await nodeHttpTransport(call(portal.url));

    // Assess
    expect(answer).toMatchObject({ status: 302, text: '' });
    expect(answer.header('location')).toBe('https://new.bitrix24.com/rest/');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('settles an unasked-for 101 upgrade with an error, not never', async () => {
    // Prepare: a raw server that switches protocols on a plain POST (Node then closes the socket silently)
    const raw = createTcpServer((socket) =>
      socket.once('data', () =>
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      ),
    );
    servers.push(raw as unknown as Server);
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));

    // Act
    const started = Date.now();
    const error = await nodeHttpTransport(
      call(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/`, { timeoutMs: 5_000 }),
    ).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('decodes a gzip answer a proxy sent anyway, bounds what it decodes to, and refuses an unknown encoding', async () => {
    // Prepare
    const gzipped = await serve((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync('{"result":true}'));
    });
    const bomb = await serve((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync(' '.repeat(1024 * 1024)));
    });
    const unknown = await serve((_req, res) => {
      res.writeHead(200, { 'content-encoding': 'zstd' });
      res.end('(\xb5/\xfd');
    });

    // Act
    const answer = await nodeHttpTransport(call(gzipped.url));
    const [tooLarge, unreadable] = await Promise.all(
      [bomb, unknown].map((s) => nodeHttpTransport(call(s.url)).catch((e: unknown) => e)),
    );

    // Assess: 1 MiB of spaces is ~1 KB gzipped, under maxBytes on the wire, far over it decoded
    expect(answer.text).toBe('{"result":true}');
    expect(tooLarge).toMatchObject({ name: 'HttpBodyError', status: 200, reason: 'too-large' });
    expect(unreadable).toMatchObject({ name: 'HttpBodyError', status: 200, reason: 'encoding' });
  });

  it('refuses an answer larger than maxBytes, declared or streamed, without buffering it', async () => {
    // Prepare
    const declared = await serve((_req, res) => res.end('x'.repeat(2048)));
    const streamed = await serve((_req, res) => {
      res.writeHead(200);
      for (let i = 0; i < 8; i += 1) res.write('x'.repeat(512));
      res.end();
    });

    // Act
    const errors = await Promise.all(
      [declared, streamed].map((s) => nodeHttpTransport(call(s.url)).catch((e: unknown) => e)),
    );

    // Assess
    for (const error of errors)
      expect(error).toMatchObject({ name: 'HttpBodyError', status: 200, reason: 'too-large' });
  });
});

describe('the REST client resends only what never got an answer', () => {
  it('does not resend a POST whose answer was cut off after its status line: the portal ran it', async () => {
    // Prepare
    const portal = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '15' });
      res.write('{"result":', () => res.socket?.destroy());
    });
    const client = createRestClient({ timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 10, backoffCapMs: 20 });

    // Act
    const error = await client
      .call({ kind: 'webhook', url: `${portal.url}/rest/1/code/` }, 'im.message.add', {}, Deadline.in(5_000))
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: 200, attempts: 1 });
    expect(portal.seen).toHaveLength(1);
  });
});

describe('refreshTokens over the transport', () => {
  const tokens = {
    access_token: 'a-new',
    refresh_token: 'r-new',
    expires_in: 3600,
    client_endpoint: 'https://example.bitrix24.com/rest/',
    server_endpoint: 'https://oauth.bitrix.info/rest/',
    member_id: 'm1',
    domain: 'example.bitrix24.com',
  };
  const refresh = (oauthUrl: string, timeoutMs = 2_000) =>
    refreshTokens(
      { tokenUrl: `${oauthUrl}/oauth/token/`, clientId: 'app.1', clientSecret: 'app-secret', refreshToken: 'r-old' },
      Deadline.in(5_000),
      { timeoutMs },
    ).catch((e: unknown) => e);

  it('never follows a redirect, so the refresh token in its query reaches no other host', async () => {
    // Prepare
    const elsewhere = await serve((_req, res) => res.end('{}'));
    const oauth = await serve((req, res) => {
      res.writeHead(302, { location: `${elsewhere.url}${req.url}` });
      res.end();
    });

    // Act
    const error = await refresh(oauth.url);

    // Assess
    expect(error).toBeInstanceOf(Bitrix24Error);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', status: 302 });
    expect(oauth.seen[0]?.url).toContain('refresh_token=r-old');
    expect(elsewhere.seen).toHaveLength(0);
  });

  it('refuses an answer over 64 KB, even a well-formed one, and times out a silent server', async () => {
    // Prepare
    const flood = await serve((_req, res) => res.end(JSON.stringify({ ...tokens, padding: 'a'.repeat(70_000) })));
    const silent = await serve(() => undefined);

    // Act
    const tooMuch = await refresh(flood.url);
    const late = await refresh(silent.url, 200);

    // Assess
    expect(tooMuch).toMatchObject({ code: 'INVALID_RESPONSE', status: 200 });
    expect(late).toMatchObject({ code: 'TIMEOUT' });
  });

  it('reads the new pair from a JSON answer, and an error answer as its error code', async () => {
    // Prepare
    const good = await serve((_req, res) => res.end(JSON.stringify(tokens)));
    const refused = await serve((_req, res) => {
      res.writeHead(400);
      res.end('{"error":"invalid_grant","error_description":"Invalid grant"}');
    });

    // Act
    const pair = await refresh(good.url);
    const error = await refresh(refused.url);

    // Assess
    expect(pair).toMatchObject({ accessToken: 'a-new', refreshToken: 'r-new', memberId: 'm1' });
    expect(error).toMatchObject({ code: 'invalid_grant', status: 400 });
  });
});
