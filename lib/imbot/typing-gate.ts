import type { Config } from '../config/index.js';
import { ServiceError } from '../errors/index.js';
import { noMetrics, type Metrics } from '../metrics/index.js';
import { DEFAULT_RATE_LIMIT, type PortalCredentials } from '../portal/index.js';
import { ExpiringMap, type Budget, type SharedState, type TypingSlot } from '../state/index.js';
import { botApiOf } from '../portal/index.js';
import { NOTIFY_METHOD, type TypingStatus } from './input-action.js';
import { SEND_TYPING_METHOD, type SendTypingOutcome } from './send-typing.js';

export interface TypingGateOptions {
  /** How long one portal call keeps answering repeats for its dialog; 0 turns coalescing off. */
  windowMs: number;
  /** The share of each portal's request budget this service may spend (0–1); the rest is for its other apps. */
  budgetShare: number;
  /** Dialogs this container remembers typing in, at most. */
  maxRecent?: number;
  now?: () => number;
  /** Receives coalesced requests, budget refusals, and each portal call's latency, attempts and outcome. */
  metrics?: Metrics;
}

/** What a gated call gets: ask `mayRetry` before retrying a rate-limited answer. */
export interface GatedCall {
  mayRetry: () => Promise<boolean>;
}

export interface TypingTarget {
  portal: PortalCredentials;
  dialogId: string;
  /** Without one, the portal secret's default bot (or none: the portal picks the application's first). */
  botId?: number;
  /** The bot's API when the caller knows it; else the bot's record in the portal secret decides. */
  api?: 'v1' | 'v2';
  /** A v2 indicator's status and duration: a call with another status or duration is new information. */
  status?: TypingStatus;
  durationSeconds?: number;
}

/**
 * Decides, across every container, whether a typing request calls the portal:
 *  - once per (portal, bot, dialog) per window: the web client keeps the indicator ~35 s after a call, so a call
 *    made less than a window ago is still showing and a repeat would only spend the portal's budget;
 *  - only within the portal's leaky bucket (less the share kept for its other apps), retries included, so the
 *    portal never has to refuse us.
 * A dialog this container typed in within the window is answered from memory, with no round trip.
 */
export class TypingGate {
  private readonly recent: ExpiringMap<true>;
  private readonly now: () => number;

  constructor(
    private readonly state: SharedState,
    private readonly options: TypingGateOptions,
  ) {
    this.recent = new ExpiringMap(options.maxRecent ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  static fromConfig(
    config: Pick<Config, 'typingCoalesceMs' | 'portalBudgetSharePercent'>,
    state: SharedState,
    metrics?: Metrics,
  ) {
    return new TypingGate(state, {
      windowMs: config.typingCoalesceMs,
      budgetShare: config.portalBudgetSharePercent / 100,
      metrics,
    });
  }

  /** Where the state lives: `shared` across containers, or `container` (memory only). */
  get scope(): SharedState['scope'] {
    return this.state.scope;
  }

  /**
   * Starts deciding at once, so the decision's round trip can overlap other work (the idempotency check);
   * `run` then acts on it, or `cancel` gives an unused slot back. `holder` names the request (its idempotency
   * key): copies of one request never coalesce against each other's window, so whichever copy does the work
   * gets the slot.
   */
  reserve(target: TypingTarget, holder?: string): TypingReservation {
    const botId = target.botId ?? target.portal.botId;
    const api = target.api ?? botApiOf(target.portal, botId);
    let key = `${target.portal.domain}|${botId ?? ''}|${target.dialogId}`;
    let windowMs = this.options.windowMs;
    if (api === 'v2') {
      // A v2 call is coalesced only into one of the same status and duration, and never past its duration: a
      // 5-second indicator asked for again after 6 seconds has lapsed and must be shown again.
      key += `|v2|${target.status ?? 'typing'}|${target.durationSeconds ?? ''}`;
      if (target.durationSeconds !== undefined) windowMs = Math.min(windowMs, target.durationSeconds * 1000);
    }
    const budgetKey = target.portal.domain;
    const budget = this.budgetOf(target.portal);
    const method = api === 'v2' ? NOTIFY_METHOD : SEND_TYPING_METHOD;
    const decision: Promise<TypingSlot> =
      windowMs > 0 && this.recent.get(key, this.now())
        ? Promise.resolve({ kind: 'coalesced' })
        : this.state.takeTypingSlot({ coalesceKey: key, windowMs, budgetKey, budget, holder, method });
    // Settled or not, nobody may be left with an unhandled rejection if the reservation is never used.
    decision.catch(() => undefined);
    const metrics = this.options.metrics ?? noMetrics;
    return new TypingReservation(botId, api, windowMs, decision, {
      admit: async () => {
        const { admitted } = await this.state.admit(budgetKey, budget);
        if (!admitted) metrics.add('RateBudgetRefusals');
        return admitted;
      },
      release: () => this.state.releaseTypingSlot(key),
      hold: (untilMs) => this.state.holdMethod(budgetKey, method, untilMs),
      remember: () => {
        if (windowMs > 0) this.recent.set(key, true, this.now() + windowMs, this.now());
      },
      metrics,
      now: this.now,
    });
  }

  private budgetOf(portal: PortalCredentials): Budget {
    const limit = portal.rateLimit ?? DEFAULT_RATE_LIMIT;
    return {
      burst: Math.max(1, Math.floor(limit.burst * this.options.budgetShare)),
      perSecond: limit.perSecond * this.options.budgetShare,
    };
  }
}

interface SlotActions {
  admit: () => Promise<boolean>;
  release: () => Promise<void>;
  /** Holds the call's method back on the portal for every container, until the portal takes it again. */
  hold: (untilMs: number) => Promise<void>;
  remember: () => void;
  metrics: Metrics;
  now: () => number;
}

/** One request's place at the gate: acted on once with `run`, or handed back with `cancel`. */
export class TypingReservation {
  constructor(
    /** The bot the call is for (the caller's, else the portal secret's default). */
    readonly botId: number | undefined,
    readonly api: 'v1' | 'v2',
    /** How long one call answers repeats of this request (0: never). */
    readonly windowMs: number,
    private readonly decision: Promise<TypingSlot>,
    private readonly actions: SlotActions,
  ) {}

  /** Runs `call` if this request holds the slot; a coalesced answer made no portal call. */
  async run(call: (gated: GatedCall) => Promise<SendTypingOutcome>): Promise<SendTypingOutcome> {
    const slot = await this.decision;
    const { metrics, now } = this.actions;
    if (slot.kind === 'coalesced') {
      metrics.add('CoalescedRequests');
      const method = this.api === 'v2' ? NOTIFY_METHOD : SEND_TYPING_METHOD;
      return { botId: this.botId, attempts: 0, upstreamStatus: 0, refreshed: false, coalesced: true, method };
    }
    if (slot.kind === 'held') {
      // Some container learnt that the portal stopped taking this method until its time budget resets.
      metrics.add('RateBudgetRefusals');
      throw new ServiceError(
        'UPSTREAM_RATE_LIMITED',
        "The portal's time budget for this method is spent; retry later.",
        {
          retryAfterSeconds: Math.max(1, Math.ceil(slot.retryAfterMs / 1000)),
          upstreamCode: 'OPERATION_TIME_LIMIT',
          attempts: 0,
        },
      );
    }
    if (slot.kind === 'rate-limited') {
      // The portal was not touched: the answer comes from our own count of its bucket.
      metrics.add('RateBudgetRefusals');
      throw new ServiceError('UPSTREAM_RATE_LIMITED', 'The portal request budget is spent; retry later.', {
        retryAfterSeconds: Math.max(1, Math.ceil(slot.retryAfterMs / 1000)),
        attempts: 0,
      });
    }
    const started = now();
    try {
      const outcome = await call({ mayRetry: this.actions.admit });
      measureCall(metrics, now() - started, outcome.attempts, false);
      this.actions.remember();
      return outcome;
    } catch (error) {
      const known = error instanceof ServiceError ? error : undefined;
      measureCall(metrics, now() - started, known?.attempts, known?.code.startsWith('UPSTREAM_') ?? false);
      // The method's time budget is spent until the portal's reset: tell every container, so none calls before;
      // first, so no container finds the window gone and the hold not yet there.
      if (known?.upstreamCode === 'OPERATION_TIME_LIMIT' && known.retryAfterSeconds !== undefined) {
        await this.actions.hold(now() + known.retryAfterSeconds * 1000).catch(() => undefined);
      }
      // Nothing is showing: the next request for this dialog must try the portal again.
      await this.actions.release();
      throw error;
    }
  }

  /** The request was answered without using its slot (e.g. a repeat answered from the idempotency record). */
  async cancel(): Promise<void> {
    const slot = await this.decision.catch(() => undefined);
    if (slot?.kind === 'acquired') await this.actions.release();
  }
}

function measureCall(metrics: Metrics, latencyMs: number, attempts: number | undefined, upstreamFailed: boolean) {
  metrics.add('UpstreamLatency', latencyMs);
  if (attempts !== undefined) metrics.add('UpstreamAttempts', attempts);
  metrics.add('UpstreamErrors', upstreamFailed ? 1 : 0);
}
