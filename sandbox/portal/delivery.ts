/** Writes the portal's answers: late by the latency set plus any scripted delay, as HTML when the body is text,
 * a dropped connection for a reset; nothing once the portal is closing. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JSON_TYPE, type Outcome } from './rest-protocol.js';

function lowerHeaderNames(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

export class Delivery {
  private readonly timers = new Set<NodeJS.Timeout>();
  private latencyMs = 0;
  private stopped = false;

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  deliver(req: IncomingMessage, res: ServerResponse, outcome: Outcome, extraDelayMs: number): void {
    this.later(this.latencyMs + extraDelayMs, () => {
      if (this.stopped || res.writableEnded || req.socket.destroyed) return;
      if ('reset' in outcome) {
        req.socket.destroy();
        return;
      }
      const isText = typeof outcome.body === 'string';
      const headers: Record<string, string> = {
        'content-type': isText ? 'text/html; charset=utf-8' : JSON_TYPE,
        ...lowerHeaderNames(outcome.headers ?? {}),
      };
      const text = isText ? (outcome.body as string) : JSON.stringify(outcome.body);
      if (outcome.stream) {
        this.stream(res, outcome.status, headers, text, outcome.stream);
        return;
      }
      res.writeHead(outcome.status, headers);
      res.end(text);
    });
  }

  /** Headers at once, then the body in pieces without a Content-Length, as a slow or runaway upstream sends it. */
  private stream(
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    text: string,
    { chunks, everyMs }: { chunks: number; everyMs: number },
  ): void {
    res.writeHead(status, headers);
    res.flushHeaders();
    const size = Math.ceil(text.length / Math.max(1, chunks));
    const pieces = Array.from({ length: Math.max(1, chunks) }, (_, i) => text.slice(i * size, (i + 1) * size));
    const next = (): void => {
      if (this.stopped || res.destroyed) return;
      const piece = pieces.shift();
      if (piece === undefined) {
        res.end();
        return;
      }
      res.write(piece);
      this.later(everyMs, next);
    };
    this.later(everyMs, next);
  }

  /** Drops every answer still waiting, so closing never waits for a slow script. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private later(ms: number, action: () => void): void {
    if (ms <= 0) {
      action();
      return;
    }
    // A timer per answer, never a blocking wait: other requests keep flowing while this one is slow.
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }
}
