import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { redactSecrets } from '../logging/index.js';
import type { BotEvent } from './bot-event.js';

const EVENT_SOURCE = 'bitrix24.imbot';

// Keys whose values are credentials wherever they appear (`auth[...]`, `data[BOT][<id>][...]`, `[AUTH][...]`).
const SECRET_KEY = /token|secret|password|^client_?id$|^auth$/i;

/** The event as internal services receive it: every token, key and CLIENT_ID removed. */
export function sanitizeEvent(event: BotEvent): Record<string, unknown> {
  const strip = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      if (!SECRET_KEY.test(key)) out[key] = strip(inner);
    }
    return out;
  };
  return {
    event: event.name,
    eventHandlerId: event.handlerId,
    ts: event.ts,
    portal: { domain: event.auth.domain, memberId: event.auth.memberId },
    data: strip(event.data),
  };
}

export interface EventPublisher {
  publish(event: BotEvent, timeoutMs: number): Promise<void>;
}

export function createEventBridgePublisher(
  busName: string,
  client = new EventBridgeClient({ maxAttempts: 2 }),
): EventPublisher {
  return {
    async publish(event, timeoutMs) {
      // A second net under sanitizeEvent: any value equal to a loaded secret is redacted too.
      const detail = redactSecrets(JSON.stringify(sanitizeEvent(event)));
      const out = await client.send(
        new PutEventsCommand({
          Entries: [{ EventBusName: busName, Source: EVENT_SOURCE, DetailType: event.name, Detail: detail }],
        }),
        { abortSignal: AbortSignal.timeout(Math.max(1, timeoutMs)) },
      );
      if (out.FailedEntryCount) {
        throw new Error(`PutEvents rejected the entry: ${out.Entries?.[0]?.ErrorCode ?? 'unknown'}`);
      }
    },
  };
}
