/** The REST call and answer shapes shared by the endpoints and the methods. Source tags are listed in index.ts. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OperatingFields } from './operating-time.js';
import { isPlainObject, phpDateC } from './php-semantics.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** A refusal the way the server writes it: `{error, error_description}` with an HTTP status. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    description: string,
  ) {
    super(description);
  }
}

/** Who made an authenticated REST call: a user behind an inbound webhook, or an OAuth application's user. */
export type Caller = { via: 'webhook'; userId: number } | { via: 'oauth'; userId: number; clientId: string };

export type MethodHandler = (caller: Caller, params: Record<string, unknown>) => unknown;

/**
 * A method's result together with what the real server accepts but a careful client never sends (a value outside
 * the documented range, say): recorded as the call's `defects`, so tests can insist there are none.
 */
export class NotedResult {
  constructor(
    readonly result: unknown,
    readonly defects: string[],
  ) {}
}

export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Send the body in pieces, without a Content-Length (see `ScriptedResponse`). */
  stream?: { chunks: number; everyMs: number };
}

/** What the portal does with a request: answer it, or drop the connection. */
export type Outcome = Answer | { reset: true };

export function failure(error: RestError): Answer {
  return { status: error.status, body: { error: error.code, error_description: error.message } };
}

export function errorCodeOf(body: unknown): string | undefined {
  return isPlainObject(body) && typeof body.error === 'string' ? body.error : undefined;
}

/** A successful answer's body: the result and the server's `time` block [docs]. */
export function envelope(result: unknown, startedMs: number, operating?: OperatingFields): unknown {
  const finishedMs = Date.now();
  const start = startedMs / 1000;
  const finish = finishedMs / 1000;
  return {
    result,
    time: {
      start,
      finish,
      duration: finish - start,
      processing: finish - start,
      date_start: phpDateC(startedMs),
      date_finish: phpDateC(finishedMs),
      ...(operating ?? { operating_reset_at: Math.floor(start) + 600, operating: 0 }),
    },
  };
}

/** A request as an endpoint gets it: read in full, its URL parsed, stamped with when it arrived. */
export interface InboundRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  bodyText: string;
  startedMs: number;
}
