import { TypingError } from './errors.js';
import type { TypingClient, TypingRequest } from './typing-client.js';

export interface KeepTypingOptions {
  /** Ask again this long before the indicator is expected to lapse. Default 5 s. */
  leadSeconds?: number;
  /** Time budget of one ask, the client's retries included. Default 10 s. */
  askDeadlineMs?: number;
  /** Hears every failed ask. A failed ask never fails the work; one no retry can change ends the asking. */
  onError?: (error: unknown) => void;
  /** The clock, in milliseconds. Tests compress time with this and `sleep`. */
  now?: () => number;
  /** Waits `ms`, or less if `signal` aborts (the work settled). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

// When an answer does not say (a v2 bot's portal chose the duration): the shortest indicator there is, a v1 one.
const ASSUMED_INDICATOR_SECONDS = 35;
// The service's upper bound for one v2 duration.
const MAX_DURATION_SECONDS = 600;
// Never ask more often than this, whatever an answer says (a coalesced answer may say 0).
const MIN_GAP_MS = 1_000;
// After a failure worth retrying: soon enough that a lapse is short, not so soon that a struggling service is pressed.
const RETRY_AFTER_FAILURE_MS = 5_000;

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Keeps a bot's indicator on while `work` runs. Each answer says how long the indicator shows (about 35 s for a
 * v1 bot, the asked duration for a v2 one); the next ask goes out `leadSeconds` before that lapses, so the
 * indicator never goes off in between. With `request.durationSeconds` the asking ends when that time is up, and
 * each ask names only the time still left, so a v2 indicator never outlasts it. Nothing is asked once the work
 * has settled (an ask in flight is aborted); an indicator already shown stays until it lapses, or until the bot
 * posts its answer. Resolves or rejects exactly as `work` does.
 */
export async function keepTyping<T>(
  client: Pick<TypingClient, 'sendTyping'>,
  request: TypingRequest,
  work: Promise<T> | (() => Promise<T>),
  options: KeepTypingOptions = {},
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const leadMs = (options.leadSeconds ?? 5) * 1000;
  const started = now();
  const endsAt = request.durationSeconds === undefined ? Infinity : started + request.durationSeconds * 1000;
  const stop = new AbortController();

  const ask = async (): Promise<number | undefined> => {
    const leftMs = endsAt - now();
    if (leftMs < MIN_GAP_MS) return undefined;
    const durationSeconds = Math.min(MAX_DURATION_SECONDS, Math.round(leftMs / 1000));
    const asked = endsAt === Infinity ? request : { ...request, durationSeconds };
    try {
      const result = await client.sendTyping(asked, {
        deadlineMs: options.askDeadlineMs ?? 10_000,
        signal: stop.signal,
      });
      const showsUntil = now() + (result.indicatorSeconds ?? ASSUMED_INDICATOR_SECONDS) * 1000;
      // Shown to the end of the asked time: nothing more to ask.
      if (showsUntil >= endsAt) return undefined;
      return Math.max(MIN_GAP_MS, showsUntil - leadMs - now());
    } catch (error) {
      if (stop.signal.aborted) return undefined;
      options.onError?.(error);
      if (!(error instanceof TypingError) || !error.retryable) return undefined;
      return Math.max(RETRY_AFTER_FAILURE_MS, (error.retryAfterSeconds ?? 0) * 1000);
    }
  };

  const asking = (async () => {
    while (!stop.signal.aborted) {
      const nextInMs = await ask();
      if (nextInMs === undefined || stop.signal.aborted) return;
      await sleep(Math.min(nextInMs, Math.max(0, endsAt - now())), stop.signal);
    }
  })();
  // The asking never decides the outcome; a throwing onError must not surface as an unhandled rejection.
  asking.catch(() => undefined);
  try {
    return await (typeof work === 'function' ? work() : work);
  } finally {
    stop.abort();
  }
}
