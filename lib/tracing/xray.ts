import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { subscribe } from 'node:diagnostics_channel';
import type { TraceAnnotations, Tracing } from './index.js';

/**
 * X-Ray tracing without an SDK: each request becomes one subsegment document, with a remote subsegment per
 * outbound call, sent over UDP to the X-Ray daemon Lambda runs beside a traced function (the documented
 * segment-document format and daemon protocol). Powertools Tracer was measured first: loading it and the X-Ray
 * SDK cost more than the whole cold-start budget allows (BENCHMARKS.md, "Observability"); this costs three
 * built-in modules.
 *
 * Outbound calls are seen through Node's `http.client.*` diagnostics channels: every call the functions make
 * goes through node:http(s) (the AWS SDK, and the portal and OAuth calls of lib/bitrix24/http-transport.ts). A
 * call records its host and status only, never a path: a webhook URL's path holds its secret code.
 */

interface Document {
  id: string;
  name: string;
  start_time: number;
  end_time?: number;
  namespace?: 'remote';
  annotations?: Record<string, string | number | boolean>;
  http?: { request: { method: string; url: string }; response?: { status: number } };
  fault?: boolean;
  error?: boolean;
  throttle?: boolean;
  subsegments?: Document[];
}

const HEADER = '{"format": "json", "version": 1}\n';
const seconds = () => Date.now() / 1000;
const newId = () => randomBytes(8).toString('hex');

/** `Root=1-...;Parent=...;Sampled=1`, as Lambda sets `_X_AMZN_TRACE_ID` for each invocation. */
function traceHeader(raw: string | undefined): { root: string; parent: string } | undefined {
  const fields = new Map((raw ?? '').split(';').map((part) => part.split('=') as [string, string]));
  const root = fields.get('Root');
  const parent = fields.get('Parent');
  return root && parent && fields.get('Sampled') === '1' ? { root, parent } : undefined;
}

/** `127.0.0.1:2000`, or `udp:127.0.0.1:2000 tcp:127.0.0.1:2000`: the UDP address. */
function daemonAddress(raw = '127.0.0.1:2000'): { host: string; port: number } {
  const udp = raw.split(' ').find((part) => part.startsWith('udp:')) ?? raw;
  const [host, port] = udp.replace(/^udp:/, '').split(':');
  return { host: host || '127.0.0.1', port: Number(port) || 2000 };
}

/** Annotation keys X-Ray indexes: letters, digits and underscores. */
const annotationKey = (key: string) => key.replace(/[^A-Za-z0-9_]/g, '_');

function finish(call: Document, status: number | undefined): void {
  call.end_time = seconds();
  if (status === undefined) {
    call.fault = true;
    return;
  }
  call.http!.response = { status };
  if (status === 429) call.throttle = true;
  if (status >= 500) call.fault = true;
  else if (status >= 400) call.error = true;
}

export function xrayTracing(env: Record<string, string | undefined> = process.env): Tracing {
  // Lambda runs one request at a time per container, so an outbound call belongs to the request in progress. No
  // AsyncLocalStorage: it would put a hook on every promise of every request for this one lookup.
  let current: Document | undefined;
  const daemon = daemonAddress(env.AWS_XRAY_DAEMON_ADDRESS);
  let socket: Socket | undefined;
  const calls = new WeakMap<object, Document>();

  const start = (request: object, method: string, origin: string) => {
    const parent = current;
    if (!parent) return;
    const call: Document = {
      id: newId(),
      name: new URL(origin).hostname,
      start_time: seconds(),
      namespace: 'remote',
      http: { request: { method, url: `${origin}/` } },
    };
    (parent.subsegments ??= []).push(call);
    calls.set(request, call);
  };
  const end = (request: object, status: number | undefined) => {
    const call = calls.get(request);
    if (call && call.end_time === undefined) finish(call, status);
  };
  type Https = { request: { method: string; protocol: string; host: string; getHeader(name: string): unknown } };
  subscribe('http.client.request.start', (m) => {
    const { request } = m as Https;
    // The Host header carries a non-default port; `host` alone is the name.
    const host = String(request.getHeader('host') ?? request.host);
    start(request, request.method, `${request.protocol}//${host}`);
  });
  subscribe('http.client.response.finish', (m) =>
    end((m as Https).request, (m as { response: { statusCode: number } }).response.statusCode),
  );
  subscribe('http.client.request.error', (m) => end((m as Https).request, undefined));

  // Awaited before the answer: Lambda freezes the container once the handler returns, and a datagram still
  // queued behind the socket's first bind would be lost (a loopback send takes microseconds).
  const send = (document: Document & { trace_id: string; parent_id: string; type: 'subsegment' }) =>
    new Promise<void>((resolve) => {
      try {
        socket ??= createSocket('udp4').unref();
        socket.send(HEADER + JSON.stringify(document), daemon.port, daemon.host, () => resolve());
      } catch {
        // A trace is never worth a request: a bad daemon address loses the document, not the answer.
        resolve();
      }
    });

  return {
    async request(route, work) {
      const trace = traceHeader(env._X_AMZN_TRACE_ID);
      if (!trace) return work(() => undefined);
      const segment: Document = { id: newId(), name: `## ${route}`, start_time: seconds(), annotations: {} };
      const annotate = (fields: TraceAnnotations) => {
        for (const [key, value] of Object.entries(fields))
          if (value !== undefined) segment.annotations![annotationKey(key)] = value;
      };
      try {
        current = segment;
        return await work(annotate);
      } catch (error) {
        segment.fault = true;
        throw error;
      } finally {
        const status = segment.annotations!.status;
        if (typeof status === 'number' && status >= 500) segment.fault = true;
        else if (typeof status === 'number' && status >= 400) segment.error = true;
        if (current === segment) current = undefined;
        segment.end_time = seconds();
        for (const call of segment.subsegments ?? []) call.end_time ??= segment.end_time;
        await send({ ...segment, trace_id: trace.root, parent_id: trace.parent, type: 'subsegment' });
      }
    },
  };
}
