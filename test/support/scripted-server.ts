import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One scripted answer: a response (after an optional delay), a dropped connection, or no answer at all. */
export type Scripted =
  | { status: number; headers?: Record<string, string>; body?: unknown; delayMs?: number }
  | { destroy: true }
  | { hang: true };

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface ScriptedServer {
  url: string;
  requests: RecordedRequest[];
  /** Answers for the next requests, in order; after them every request gets `fallback`. */
  script(...answers: Scripted[]): void;
  close(): Promise<void>;
}

/** A loopback HTTP server that records every request and answers as the test scripts it. */
export async function startScriptedServer(
  fallback: Scripted = { status: 200, body: { ok: true } },
): Promise<ScriptedServer> {
  const queue: Scripted[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const send = (res: ServerResponse, answer: Extract<Scripted, { status: number }>) => {
    const text =
      answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const type = typeof answer.body === 'string' ? 'text/plain' : 'application/json';
    res.writeHead(answer.status, { 'content-type': type, ...answer.headers });
    res.end(text);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      const answer = queue.shift() ?? fallback;
      if ('destroy' in answer) return req.socket.destroy();
      if ('hang' in answer) return;
      if (answer.delayMs) setTimeout(() => send(res, answer), answer.delayMs);
      else send(res, answer);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...answers) => queue.push(...answers),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
