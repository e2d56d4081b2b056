import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { forwardedHeaders, listenOnLoopback, onWholeBody } from './loopback-proxy.js';

/**
 * A loopback proxy that hands moto's DynamoDB the requests for one item one at a time. Put it between moto and
 * every process that shares state through the table (tests, `npm start` in the e2e tests, the bench).
 *
 * Why: DynamoDB applies each write to an item atomically, condition included, so of two concurrent
 * conditional writes to one item exactly one passes; the shared state (lib/state) is built on that. moto's
 * server does not give that guarantee: it serves each request on a thread of its own (werkzeug, threaded) and
 * its DynamoDB backend reads the item, evaluates the ConditionExpression and writes in separate steps with no
 * lock between them, so two concurrent writers can both pass the same condition: two claims of one delivery,
 * two idempotency records for one webhook-id, a budget spent twice. (Seen with moto 5.2.5: of 50 concurrent
 * UpdateItems conditioned on `attribute_not_exists` of one new item, 2 passed in 3 rounds of 5 in one run and in
 * 1 round of 5 in another; through this proxy, 1 in every round.) Queueing each item's requests at the emulator restores DynamoDB's guarantee while
 * every container still sends its requests concurrently: what this proxy takes away is moto's race, not the
 * service's. Requests for different items go on side by side, as in DynamoDB, so a hot item (a portal's
 * budget, a polled idempotency record) does not hold up the others.
 *
 * A request whose caller gave up while queued (an SDK timeout) is dropped unforwarded; one already forwarded
 * holds its item's queue until moto has answered it, so moto never works on one item twice at once.
 */
export async function startSerialProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const queues = new Map<string, Promise<void>>();
  const server = createServer((req, res) => {
    onWholeBody(req, (body) => {
      const item = itemOf(body);
      const turn = (queues.get(item) ?? Promise.resolve()).then(() => forward(target, req, res, body));
      queues.set(item, turn);
      // The last request of an item leaves no queue behind.
      void turn.then(() => {
        if (queues.get(item) === turn) queues.delete(item);
      });
    });
  });
  return listenOnLoopback(server);
}

/** The table and key a DynamoDB JSON request names (`Key` or `Item`); table-level requests share one queue. */
function itemOf(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { TableName?: string; Key?: unknown; Item?: unknown };
    const keyed = (parsed.Key ?? parsed.Item) as Record<string, unknown> | undefined;
    const key = keyed && typeof keyed === 'object' ? JSON.stringify(keyed.id ?? keyed) : '';
    return `${parsed.TableName ?? ''}\u0000${key}`;
  } catch {
    return '';
  }
}

/** Sends one request to moto and relays its answer; resolves once moto has answered (or the request failed). */
function forward(target: URL, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  return new Promise<void>((done) => {
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
}
