import type { Deadline } from '../deadline/index.js';
import { sleep } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { normalizeDomain, type Credentials, type PortalCredentials } from '../portal/index.js';
import { INSTALL_EVENTS, type BotEvent } from './bot-event.js';
import { acceptInstall, domainAllowed, type InstallPolicy } from './install.js';
import { recogniseRenamedPortal } from './renamed-portal.js';
import { unverified, verifiedEvent, verifyEventOrigin } from './verification.js';

export interface EventVerifierOptions {
  credentials: Credentials;
  logger: Logger;
  /** Exact domains or `*.suffix` rules events may name; empty: any. */
  portalDomains: string[];
  /** Lookups of names this container holds nothing for that turn out absent: a burst, then a rate per second. */
  unknownLookups: { burst: number; perSecond: number };
  /** No refusal is answered sooner than this after verification began. */
  refusalFloorMs: number;
  /** Only with installs enabled: how ONAPPINSTALL / ONAPPUPDATE are proven. */
  install?: InstallPolicy;
  now?: () => number;
}

export interface VerifiedEvent {
  /** The event with its portal's normalised domain and member id (see `verifiedEvent`). */
  event: BotEvent;
  portal: PortalCredentials;
}

/**
 * A token bucket for store reads of names nobody has shown to exist. A read takes a token first, so concurrent
 * requests cannot overdraw it; the token comes back if the name was a portal after all, so only names that
 * turn out absent spend the budget, and a cold container reading its real portals never runs short.
 */
export class LookupBudget {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  take(): boolean {
    const at = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((at - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = at;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  giveBack(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }
}

// How often the "over budget" warning may repeat; every refused request still has its own summary line.
const BUDGET_REPORT_MS = 10_000;

/**
 * Everything an event must pass before the service acts on it, built once per container. Unauthenticated
 * senders choose `auth[domain]` freely, so what a made-up name may cost is bounded here: a name off
 * PORTAL_DOMAINS is refused without a lookup; a name this container holds nothing for is read only within the
 * lookup budget, and refused without a lookup beyond it. Every refusal is the same 401, answered no sooner
 * than the floor, so neither the body nor the timing tells a cached (active) portal from an unknown name.
 */
export class EventVerifier {
  private readonly budget: LookupBudget;
  private readonly now: () => number;
  private refusedWithoutLookup = 0;
  private lastReportAt = -Infinity;

  constructor(private readonly options: EventVerifierOptions) {
    this.now = options.now ?? Date.now;
    this.budget = new LookupBudget(options.unknownLookups.burst, options.unknownLookups.perSecond, this.now);
  }

  async verify(event: BotEvent, deadline: Deadline): Promise<VerifiedEvent> {
    const started = this.now();
    try {
      const portal = await this.check(event, deadline);
      return { event: verifiedEvent(event, portal), portal };
    } catch (error) {
      if (error instanceof ServiceError && error.code === 'EVENT_UNVERIFIED') {
        // Never past the answer budget: a refusal must not turn into a timeout.
        const wait = Math.min(started + this.options.refusalFloorMs - this.now(), deadline.remainingMs() - 50);
        if (wait > 0) await sleep(wait);
      }
      throw error;
    }
  }

  private async check(event: BotEvent, deadline: Deadline): Promise<PortalCredentials> {
    const { credentials, portalDomains, install, logger } = this.options;
    const domain = normalizeDomain(event.auth.domain);
    if (!domain) throw unverified('auth[domain] is not a host name');
    if (portalDomains.length > 0 && !domainAllowed(domain, portalDomains))
      throw unverified('domain off PORTAL_DOMAINS');
    if (install && INSTALL_EVENTS.has(event.name)) {
      return acceptInstall(event, { credentials, logger, policy: install, deadline });
    }
    if (credentials.portalKnowledge(domain) !== 'nothing') return verifyEventOrigin(credentials, event);
    if (!this.budget.take()) {
      this.reportOverBudget();
      throw unverified('unknown portal (over the lookup budget: not looked up)');
    }
    try {
      return await verifyEventOrigin(credentials, event);
    } catch (error) {
      if (!(error instanceof ServiceError && error.code === 'EVENT_UNVERIFIED')) throw error;
      return await this.renamed(event, domain, error);
    } finally {
      if (credentials.portalKnowledge(domain) === 'found') this.budget.giveBack();
    }
  }

  /**
   * A domain with no secret may be a renamed portal, found by its member id. That index entry is one more name
   * the sender chose, so it is read only with a token of its own, given back if it led to a portal.
   */
  private async renamed(event: BotEvent, domain: string, refusal: ServiceError): Promise<PortalCredentials> {
    const { credentials, install, logger } = this.options;
    if (!event.auth.memberId || credentials.portalKnowledge(domain) !== 'absent') throw refusal;
    if (!this.budget.take()) {
      this.reportOverBudget();
      throw refusal;
    }
    const moved = await recogniseRenamedPortal(credentials, event, { logger, mayStore: install !== undefined });
    if (!moved) throw refusal;
    this.budget.giveBack();
    return moved;
  }

  private reportOverBudget(): void {
    this.refusedWithoutLookup += 1;
    if (this.now() - this.lastReportAt < BUDGET_REPORT_MS) return;
    this.options.logger.warn('unknown portals over the lookup budget: refused without a lookup', {
      refusedWithoutLookup: this.refusedWithoutLookup,
      burst: this.options.unknownLookups.burst,
      perSecond: this.options.unknownLookups.perSecond,
    });
    this.lastReportAt = this.now();
    this.refusedWithoutLookup = 0;
  }
}
