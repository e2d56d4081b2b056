import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signRequest } from '../../lib/signing/standard-webhooks.js';

/**
 * A loopback reverse proxy that signs every `POST /typing` it forwards, so a schema-driven fuzzer that knows
 * nothing of Standard Webhooks still reaches the body validation behind the signature check.
 */
export async function startSigningProxy(target: string, key: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !['host', 'connection', 'transfer-encoding'].includes(name)) headers[name] = value;
      }
      if (req.method === 'POST' && req.url?.startsWith('/typing')) Object.assign(headers, signRequest({ body, key }));
      headers['content-length'] = String(body.length);
      const forward = request(
        { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (response) => {
          res.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(res);
        },
      );
      forward.on('error', (error) => {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`proxy could not reach the service: ${String(error)}`);
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
