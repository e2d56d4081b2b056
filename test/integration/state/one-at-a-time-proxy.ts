import { createServer } from 'node:http';
import { forwardedHeaders, listenOnLoopback, onWholeBody, relay } from '../../../devtools/loopback-proxy.js';

/**
 * A loopback proxy that hands moto one request at a time. DynamoDB applies each conditional write to an item
 * atomically; moto's threaded server checks a condition and writes in separate steps without a lock, so two
 * concurrent writers can both pass. Serialising at the emulator gives the tests DynamoDB's guarantee while
 * every emulated container still sends its requests concurrently.
 */
export async function oneAtATime(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  let queue: Promise<void> = Promise.resolve();
  const server = createServer((req, res) => {
    onWholeBody(req, (body) => {
      queue = queue.then(
        () =>
          new Promise<void>((done) => {
            res.on('close', () => done());
            const headers = forwardedHeaders(req.headers, new Set(['host']), body);
            relay(target, req, res, { headers, body }).on('error', () => {
              res.destroy();
              done();
            });
          }),
      );
    });
  });
  return listenOnLoopback(server);
}
