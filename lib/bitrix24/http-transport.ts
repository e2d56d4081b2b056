import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One HTTP exchange with a portal or the OAuth server. */
export interface HttpCall {
  method: 'GET' | 'POST';
  url: string | URL;
  headers?: Record<string, string>;
  body?: string;
  /** Covers the whole exchange: connect, send, and reading the answer to its end. */
  timeoutMs: number;
  /** An answer larger than this is refused (HttpResponseTooLarge) without buffering the rest. */
  maxBytes: number;
}

/** The answer, read to its end. Redirects are never followed: a 3xx is an answer like any other. */
export interface HttpAnswer {
  status: number;
  /** A response header by its lower-case name; the first value when repeated. */
  header(name: string): string | undefined;
  text: string;
}

export type HttpTransport = (call: HttpCall) => Promise<HttpAnswer>;

/** The answer's status line arrived, its body did not: too large, cut off, lost, or in an encoding we cannot read. */
export class HttpBodyError extends Error {
  override readonly name = 'HttpBodyError';
  constructor(
    readonly status: number,
    readonly reason: 'too-large' | 'timeout' | 'interrupted' | 'encoding',
    options?: { cause?: unknown },
  ) {
    super(`answer ${status}: body ${reason}`, options);
  }
}

/** What a failed exchange comes to, for the caller's own words: the same classes for every caller. */
export interface TransportFailure {
  kind: 'too-large' | 'encoding' | 'timeout' | 'network';
  /** The answer's status when its status line arrived, else 0. */
  status: number;
  /** The underlying error: the socket's, the timeout's, or the HttpBodyError itself. */
  cause: unknown;
}

export function transportFailure(error: unknown): TransportFailure {
  if (error instanceof HttpBodyError) {
    if (error.reason === 'too-large' || error.reason === 'encoding') {
      return { kind: error.reason, status: error.status, cause: error };
    }
    return { kind: error.reason === 'timeout' ? 'timeout' : 'network', status: error.status, cause: error.cause };
  }
  const name = (error as { name?: string }).name;
  return { kind: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network', status: 0, cause: error };
}

function answerOf(response: IncomingMessage, text: string): HttpAnswer {
  const { headers } = response;
  return {
    status: response.statusCode ?? 0,
    header: (name) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    text,
  };
}

/**
 * The body as text. We ask for identity, but a proxy in front of a portal may compress anyway: gzip, deflate and
 * br are decoded (node:zlib, loaded only then), the decoded size bounded by `maxBytes` too.
 */
async function decoded(response: IncomingMessage, body: Buffer, maxBytes: number): Promise<string> {
  const encoding = String(response.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (encoding === 'identity' || encoding === '') return body.toString('utf8');
  const status = response.statusCode ?? 0;
  const zlib = await import('node:zlib');
  const decode = {
    gzip: zlib.gunzipSync,
    'x-gzip': zlib.gunzipSync,
    deflate: zlib.inflateSync,
    br: zlib.brotliDecompressSync,
  }[encoding];
  if (!decode) throw new HttpBodyError(status, 'encoding');
  try {
    return decode(body, { maxOutputLength: maxBytes }).toString('utf8');
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new HttpBodyError(status, tooLarge ? 'too-large' : 'encoding', { cause: error });
  }
}

/** Reads the answer to its end, or fails once it passes `maxBytes`. */
function readAnswer(
  request: ClientRequest,
  response: IncomingMessage,
  maxBytes: number,
  signal: AbortSignal,
): Promise<HttpAnswer> {
  const status = response.statusCode ?? 0;
  return new Promise((resolve, reject) => {
    // A redirect is its status and Location: settled at once, its body (of any size or pace) dropped with the socket.
    if (status >= 300 && status < 400) {
      resolve(answerOf(response, ''));
      request.destroy();
      return;
    }
    const tooLarge = () => {
      reject(new HttpBodyError(status, 'too-large'));
      request.destroy();
    };
    if (Number(response.headers['content-length'] ?? 0) > maxBytes) return tooLarge();
    const chunks: Buffer[] = [];
    let bytes = 0;
    response.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) tooLarge();
      else chunks.push(chunk);
    });
    response.on('end', () => {
      decoded(response, Buffer.concat(chunks), maxBytes).then((text) => resolve(answerOf(response, text)), reject);
    });
    // A timeout or a dropped connection while the body arrives; a close before the end counts as one too.
    response.on('close', () => {
      if (!response.complete) reject(new HttpBodyError(status, signal.aborted ? 'timeout' : 'interrupted'));
    });
    response.on('error', (error) =>
      reject(
        signal.aborted
          ? new HttpBodyError(status, 'timeout', { cause: signal.reason })
          : new HttpBodyError(status, 'interrupted', { cause: error }),
      ),
    );
  });
}

/**
 * Portal and OAuth calls over node:http / node:https, which the AWS SDK has already loaded in every container.
 * Not `fetch`: its first call loads undici and compiles its WASM HTTP parser, a cost every cold start would pay
 * for one small POST (BENCHMARKS.md, "Cold start"). Connections are kept alive by Node's global agents, as the
 * SDK's are. A failure before the status line is the socket's error (`code` ECONNRESET, ECONNREFUSED, …) or, when
 * `timeoutMs` passed, an error named `TimeoutError`; after it, an HttpBodyError carrying the status.
 */
export const nodeHttpTransport: HttpTransport = (call) =>
  new Promise((resolve, reject) => {
    const url = typeof call.url === 'string' ? new URL(call.url) : call.url;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const signal = AbortSignal.timeout(call.timeoutMs);
    // Identity only: an answer is a few hundred bytes, and the size bound counts what arrives.
    const headers = { 'accept-encoding': 'identity', ...call.headers };
    let answered = false;
    const request = send(url, { method: call.method, headers, signal }, (response) => {
      answered = true;
      readAnswer(request, response, call.maxBytes, signal).then(resolve, reject);
    });
    // Before the status line: the timeout's own error, or the socket's. After it, the body's error says which.
    request.on('error', (error) => answered || reject(signal.aborted ? signal.reason : error));
    // Closed with neither an answer nor an error: a 101 upgrade nobody asked for ends this way.
    request.on(
      'close',
      () => answered || reject(signal.aborted ? signal.reason : new Error('closed without an answer')),
    );
    request.end(call.body);
  });
