/**
 * What every loopback proxy here shares (the Secrets Manager fault proxy, the signing proxy in front of the
 * service, the HTTPS front of the portal simulator): read the request whole, send it on to one upstream,
 * relay the answer, and listen on an ephemeral 127.0.0.1 port.
 */
import {
  request,
  type Agent,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** Calls `onBody` with the whole request body: each proxy looks at, signs or counts it before forwarding. */
export function onWholeBody(req: IncomingMessage, onBody: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => onBody(Buffer.concat(chunks)));
}

/** The request's headers without `dropped` and with the length of the body as it is forwarded. */
export function forwardedHeaders(
  headers: IncomingHttpHeaders,
  dropped: ReadonlySet<string>,
  body: Buffer,
): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !dropped.has(name)) out[name] = value;
  }
  out['content-length'] = String(body.length);
  return out;
}

/**
 * Sends the request on to `upstream` and pipes the answer into `res`. The caller attaches its own `error`
 * handler to the returned request: what an unreachable upstream means differs between proxies.
 */
export function relay(
  upstream: URL,
  req: IncomingMessage,
  res: ServerResponse,
  forward: { headers: OutgoingHttpHeaders; body: Buffer; agent?: Agent },
): ClientRequest {
  const outgoing = request(
    {
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: forward.headers,
      ...(forward.agent ? { agent: forward.agent } : {}),
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  outgoing.end(forward.body);
  return outgoing;
}

/** Listens on an ephemeral loopback port; `close()` ends open connections too, so it never waits on keep-alive. */
export async function listenOnLoopback(
  server: Server | TlsServer,
  scheme: 'http' | 'https' = 'http',
): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
