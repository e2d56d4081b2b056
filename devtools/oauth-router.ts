import { createServer } from 'node:http';
import type { FakePortal } from '../sandbox/portal/index.js';
import { forwardedHeaders, listenOnLoopback, onWholeBody, relay } from './loopback-proxy.js';

/**
 * One OAuth server for several loopback portals, as Bitrix24's own serves every portal: the service refreshes
 * only at the one OAUTH_SERVER it is configured with, while each simulated portal keeps its own token
 * endpoint. A token request goes to the portal that knows its `client_id`; an unknown one gets what the real
 * server answers, `invalid_client`.
 */
export async function startOAuthRouter(portals: FakePortal[]): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    onWholeBody(req, (body) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const clientId = url.searchParams.get('client_id') ?? new URLSearchParams(body.toString()).get('client_id');
      const portal = portals.find((p) => clientId !== null && p.hasApp(clientId));
      if (!portal) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_client', error_description: 'Unknown client' }));
        return;
      }
      relay(new URL(portal.oauthServer), req, res, {
        headers: forwardedHeaders(req.headers, new Set(), body),
        body,
      }).on('error', () => res.destroy());
    });
  });
  return listenOnLoopback(server);
}
