import { createServer } from 'node:http';
import { signRequest } from '../lib/signing/standard-webhooks.js';
import { forwardedHeaders, listenOnLoopback, onWholeBody, relay } from './loopback-proxy.js';

// `host` names this proxy, not the service; the framing headers are rewritten for the buffered body.
const NOT_FORWARDED = new Set(['host', 'connection', 'transfer-encoding']);

/**
 * A loopback reverse proxy that signs every `POST /typing` it forwards, so a schema-driven fuzzer that knows
 * nothing of Standard Webhooks still reaches the body validation behind the signature check.
 */
export async function startSigningProxy(target: string, key: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    onWholeBody(req, (body) => {
      const headers = forwardedHeaders(req.headers, NOT_FORWARDED, body);
      if (req.method === 'POST' && req.url?.startsWith('/typing')) Object.assign(headers, signRequest({ body, key }));
      relay(upstream, req, res, { headers, body }).on('error', (error) => {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end(`proxy could not reach the service: ${String(error)}`);
      });
    });
  });
  return listenOnLoopback(server);
}
