import { createServer, request } from 'node:http';
import { forwardedHeaders, listenOnLoopback, onWholeBody } from './loopback-proxy.js';

/**
 * A loopback proxy that hands moto's DynamoDB one request at a time. Put it between moto and every process
 * that shares state through the table (tests, `npm start` in the e2e tests, the bench).
 *
 * Why: DynamoDB applies each write to an item atomically, condition included, so of two concurrent
 * conditional writes to one item exactly one passes; the shared state (lib/state) is built on that. moto's
 * server does not give that guarantee: it serves each request on a thread of its own (werkzeug, threaded) and
 * its DynamoDB backend reads the item, evaluates the ConditionExpression and writes in separate steps with no
 * lock between them, so two concurrent writers can both pass the same condition: two claims of one delivery,
 * two idempotency records for one webhook-id, a budget spent twice. (Seen with moto 5.2.5: of 50 concurrent
 * UpdateItems conditioned on `attribute_not_exists` of one new item, 2 passed in 3 rounds of 5; through this
 * proxy, 1 in every round.) Serialising at the emulator restores
 * DynamoDB's guarantee (for all items at once, which costs only throughput) while every container still sends
 * its requests concurrently; what this proxy takes away is moto's race, not the service's.
 *
 * A request whose caller gave up while queued (an SDK timeout) is dropped unforwarded; one already forwarded
 * holds the queue until moto has answered it, so moto never sees two at once.
 */
export async function startSerialProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  let queue: Promise<void> = Promise.resolve();
  const server = createServer((req, res) => {
    onWholeBody(req, (body) => {
      const turn = () =>
        new Promise<void>((done) => {
          if (res.closed) return done();
          const outgoing = request(
            {
              hostname: target.hostname,
              port: target.port,
              method: req.method,
              path: req.url,
              headers: forwardedHeaders(req.headers, new Set(['host', 'connection']), body),
            },
            (answer) => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
              // A caller gone mid-answer must not leave moto's answer unread: the turn ends when it is read.
              res.once('close', () => answer.resume());
            },
          );
          outgoing.once('close', () => done());
          outgoing.on('error', () => res.destroy());
          outgoing.end(body);
        });
      queue = queue.then(turn);
    });
  });
  return listenOnLoopback(server);
}
