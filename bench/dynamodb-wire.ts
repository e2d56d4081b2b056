/**
 * What the service asks DynamoDB, seen on the wire: a pass-through proxy in front of the table's endpoint that
 * records each request's operation and when it was in flight, so a count does not depend on the code under
 * test. From the in-flight times follows the critical path: requests that overlap ran in parallel, a request
 * that starts after another has answered waited for it.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { forwardedHeaders, listenOnLoopback, onWholeBody, relay } from '../devtools/loopback-proxy.js';

export interface WireRequest {
  /** From `x-amz-target`: `PutItem`, `UpdateItem`, `GetItem`… */
  operation: string;
  /** performance.now() in this process when the request arrived whole, and when its answer was relayed. */
  start: number;
  end: number;
}

export interface DynamoDBWire {
  url: string;
  readonly requests: readonly WireRequest[];
  /** Forgets the requests seen so far. */
  reset(): void;
  close(): Promise<void>;
}

export async function startDynamoDBWire(upstream: string): Promise<DynamoDBWire> {
  const target = new URL(upstream);
  const requests: WireRequest[] = [];
  const server = createServer((req, res) => {
    onWholeBody(req, (body) => {
      const header = String(req.headers['x-amz-target'] ?? '');
      const record: WireRequest = { operation: header.split('.').pop() ?? '', start: performance.now(), end: NaN };
      requests.push(record);
      res.once('finish', () => (record.end = performance.now()));
      const headers = forwardedHeaders(req.headers, new Set(['host', 'connection', 'keep-alive']), body);
      relay(target, req, res, { headers, body }).on('error', () => req.socket.destroy());
    });
  });
  const listening = await listenOnLoopback(server);
  return {
    url: listening.url,
    requests,
    reset: () => void requests.splice(0),
    close: listening.close,
  };
}

/**
 * The longest chain of requests each of which started after the previous one had answered: how many round
 * trips one after another the caller waited for. Overlapping requests count once.
 */
export function sequentialDepth(requests: readonly WireRequest[]): number {
  const sorted = [...requests].sort((a, b) => a.end - b.end);
  const depth: number[] = [];
  sorted.forEach((request, i) => {
    let before = 0;
    for (let j = 0; j < i; j += 1) if (sorted[j]!.end <= request.start) before = Math.max(before, depth[j]!);
    depth.push(before + 1);
  });
  return Math.max(0, ...depth);
}

/**
 * `PutItem 200, UpdateItem 420 (3.10 per /typing) in 2.31 s`: requests per operation, per `/typing` request
 * served, and first arrival to last answer.
 */
export function wireSummary(requests: readonly WireRequest[], typingRequests: number): string {
  if (requests.length === 0) return 'none';
  const first = Math.min(...requests.map((r) => r.start));
  const last = Math.max(...requests.map((r) => (Number.isNaN(r.end) ? r.start : r.end)));
  const per = (requests.length / typingRequests).toFixed(2);
  return `${byOperation(requests)} (${per} per /typing) in ${((last - first) / 1000).toFixed(2)} s`;
}

/** `PutItem 1, UpdateItem 2`: requests per operation, in a stable order. */
export function byOperation(requests: readonly WireRequest[]): string {
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(r.operation, (counts.get(r.operation) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([operation, n]) => `${operation} ${n}`)
    .join(', ');
}
