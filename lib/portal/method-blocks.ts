import { Bitrix24Error } from '../bitrix24/errors.js';
import type { Logger } from '../logging/index.js';
import type { Deadline } from '../deadline/index.js';
import type { PortalCallOptions, PortalClient } from './portal-client.js';
import type { PortalCredentials } from './portal-credentials.js';
import { DEFAULT_OPERATION_WAIT_SECONDS } from './upstream-errors.js';

/**
 * Methods a portal has stopped taking from us. Bitrix24 charges each method's execution time per application in
 * ten one-minute baskets; once the sum passes its limit, every call of that method answers 429
 * `OPERATION_TIME_LIMIT` until the oldest basket resets (`time.operating_reset_at`), which can be minutes away.
 * Calling again before then only spends request budget, so calls wait here instead.
 *
 * This container's memory backs it, for every portal call this container makes. Typing calls are also held back
 * across containers: the typing gate (lib/imbot) records the hold in the shared state's budget item, whose one
 * conditional write per typing request refuses the held method, so another container does not spend a call to
 * learn it.
 */
export interface MethodBlocks {
  /** Milliseconds until `method` may be called on `portal` again; 0 when it may be called now. */
  remainingMs(portal: string, method: string): number;
  block(portal: string, method: string, untilMs: number): void;
  /** Keeps the reset time a successful answer named: the docs' first guess when a later answer is a 429. */
  noteReset(portal: string, method: string, resetAtMs: number): void;
  lastResetMs(portal: string, method: string): number | undefined;
}

export function createMemoryMethodBlocks(options: { maxEntries?: number; now?: () => number } = {}): MethodBlocks {
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const blocked = new Map<string, number>();
  const resets = new Map<string, number>();
  const key = (portal: string, method: string) => `${portal}|${method.toLowerCase()}`;
  const put = (map: Map<string, number>, k: string, value: number) => {
    map.delete(k);
    // Oldest first out: a portal that has not answered for a while is the one least likely to be asked again.
    if (map.size >= maxEntries) map.delete(map.keys().next().value as string);
    map.set(k, value);
  };
  return {
    remainingMs(portal, method) {
      const k = key(portal, method);
      const until = blocked.get(k);
      if (until === undefined) return 0;
      const left = until - now();
      if (left <= 0) blocked.delete(k);
      return Math.max(0, left);
    },
    block: (portal, method, untilMs) => put(blocked, key(portal, method), untilMs),
    noteReset: (portal, method, resetAtMs) => put(resets, key(portal, method), resetAtMs),
    lastResetMs: (portal, method) => resets.get(key(portal, method)),
  };
}

/**
 * A portal client that holds back calls of a method whose time budget the portal reported spent, and answers them
 * with the portal's own refusal (attempts: 0) and the seconds until the reset, so the caller's `Retry-After` is
 * the real wait, not a guess of 2 s.
 */
export function withMethodBlocks(
  client: PortalClient,
  blocks: MethodBlocks,
  logger: Logger,
  now: () => number = Date.now,
): PortalClient {
  return {
    async call<T>(
      portal: PortalCredentials,
      method: string,
      params: Record<string, unknown>,
      deadline: Deadline,
      options?: PortalCallOptions,
    ) {
      const waitMs = blocks.remainingMs(portal.domain, method);
      if (waitMs > 0) {
        const held = new Bitrix24Error(
          'OPERATION_TIME_LIMIT',
          429,
          "held back: the portal's time budget for this method has not reset yet",
          Math.ceil(waitMs / 1000),
        );
        held.attempts = 0;
        throw held;
      }
      try {
        const out = await client.call<T>(portal, method, params, deadline, options);
        if (out.operatingResetAt !== undefined) blocks.noteReset(portal.domain, method, out.operatingResetAt * 1000);
        return out;
      } catch (error) {
        if (!(error instanceof Bitrix24Error && error.isOperationTimeLimit)) throw error;
        throw blockUntilReset(error, portal.domain, method, blocks, logger, now());
      }
    },
  };
}

function blockUntilReset(
  error: Bitrix24Error,
  portal: string,
  method: string,
  blocks: MethodBlocks,
  logger: Logger,
  nowMs: number,
): Bitrix24Error {
  // The answer's own reset time first; else, as the docs advise, the last successful answer's; else a minute.
  const named = error.operatingResetAt !== undefined ? error.operatingResetAt * 1000 : undefined;
  const remembered = blocks.lastResetMs(portal, method);
  const source =
    named !== undefined && named > nowMs
      ? 'answer'
      : remembered !== undefined && remembered > nowMs
        ? 'last success'
        : 'default';
  const untilMs =
    source === 'answer'
      ? named!
      : source === 'last success'
        ? remembered!
        : nowMs + DEFAULT_OPERATION_WAIT_SECONDS * 1000;
  blocks.block(portal, method, untilMs);
  const retryAfterSeconds = Math.max(1, Math.ceil((untilMs - nowMs) / 1000));
  logger.warn("portal method's time budget spent: calls held until it resets", {
    portal,
    method,
    upstreamCode: error.code,
    retryAfterSeconds,
    resetFrom: source,
  });
  const blocked = new Bitrix24Error(error.code, error.status, error.description, retryAfterSeconds, { cause: error });
  blocked.attempts = error.attempts;
  blocked.operatingResetAt = error.operatingResetAt;
  return blocked;
}
