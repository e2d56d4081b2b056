import type { PortalClient } from '../portal/portal-client.js';
import { isSupervisorBot, type PortalCredentials } from '../portal/index.js';
import type { Deadline } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import { NOTIFY_METHOD } from '../imbot/input-action.js';
import { SEND_TYPING_METHOD, sendTyping, validateDialogId } from '../imbot/send-typing.js';
import type { TypingGate } from '../imbot/typing-gate.js';
import type { Logger } from '../logging/index.js';
import type { SharedState } from '../state/index.js';
import type { BotEvent, TypingTarget } from './bot-event.js';
import { MAX_BOTS_PER_EVENT, typingTargets } from './bot-event.js';

export interface EventTypingResult {
  botId: number;
  dialogId: string;
  /** `SKIPPED_<reason>`: the platform shows no typing there, and neither does the service by default. */
  outcome:
    'OK' | 'COALESCED' | 'DUPLICATE' | 'SKIPPED_OPEN_LINE' | 'SKIPPED_KEYBOARD_COMMAND' | 'SKIPPED_SUPERVISOR' | string;
  upstreamStatus?: number;
}

interface EventDeps {
  portals: PortalClient;
  /** Claims each delivery, so one acts on it whichever container it lands on. */
  deliveries: Pick<SharedState, 'claim' | 'release'>;
  /** How long a delivery is recognised as a duplicate; Bitrix24 itself never redelivers. */
  deliveryMemoryMs: number;
  logger: Logger;
  deadline: Deadline;
  gate?: TypingGate;
  /** Type also where the platform deliberately does not (open lines, supervisor bots, keyboard commands). */
  typingWherePlatformDoesNot?: boolean;
}

/**
 * Shows typing for each bot a message, command or join event was delivered to, once per delivery (a failed
 * attempt does not count). Failures are logged with everything needed to replay the call by hand and never thrown: Bitrix24 does not retry a delivery, so an
 * error answer would only get our handler deprioritised.
 */
export async function showTypingForEvent(
  event: BotEvent,
  portal: PortalCredentials,
  deps: EventDeps,
): Promise<EventTypingResult[]> {
  const targets = typingTargets(event, (named) =>
    deps.logger.warn('event names more bots than are served', {
      event: event.name,
      portal: portal.domain,
      named,
      served: MAX_BOTS_PER_EVENT,
    }),
  );
  return Promise.all(targets.map((target) => typingFor(target, event, portal, deps)));
}

/** Why the platform shows no typing for this target, when it deliberately shows none. */
function platformSilence(target: TypingTarget, portal: PortalCredentials): string | undefined {
  if (target.platformSilent) return target.platformSilent;
  return isSupervisorBot(portal, target.botId) ? 'SUPERVISOR' : undefined;
}

async function typingFor(
  target: TypingTarget,
  event: BotEvent,
  portal: PortalCredentials,
  deps: EventDeps,
): Promise<EventTypingResult> {
  const { botId } = target;
  let dialogId: string;
  try {
    dialogId = validateDialogId(target.dialogId);
  } catch {
    deps.logger.warn('event names a dialog imbot cannot type in', {
      event: event.name,
      portal: portal.domain,
      botId,
      dialogId: target.dialogId.slice(0, 64),
    });
    return { botId, dialogId: target.dialogId.slice(0, 64), outcome: 'DIALOG_ID_INVALID' };
  }
  const silence = deps.typingWherePlatformDoesNot ? undefined : platformSilence(target, portal);
  if (silence) return { botId, dialogId, outcome: `SKIPPED_${silence}` };
  // The claim comes before the typing slot, one round trip after the other. Taken side by side, a duplicate
  // delivery could win the dialog's typing window while the delivery that won the claim was coalesced against
  // that window; the duplicate then hands the window back, and nobody types.
  if (!(await deps.deliveries.claim(`delivery#${target.deliveryKey}`, deps.deliveryMemoryMs))) {
    return { botId, dialogId, outcome: 'DUPLICATE' };
  }
  const reservation = deps.gate?.reserve({ portal, dialogId, botId, api: target.api });
  try {
    // A webhook bot's events carry no token we use: the stored webhook and CLIENT_ID (v2: botToken) are used. An
    // OAuth bot's event token goes to the stored client_endpoint only.
    const accessToken = portal.oauth ? target.accessToken : undefined;
    const input = { portal, dialogId, botId, accessToken, api: target.api };
    const out = await sendTyping(deps.portals, input, deps.deadline, reservation);
    return {
      botId,
      dialogId,
      outcome: out.coalesced ? 'COALESCED' : 'OK',
      upstreamStatus: out.coalesced ? undefined : out.upstreamStatus,
    };
  } catch (error) {
    // Forget the delivery: if the same event comes again, it deserves a real try (typing twice is harmless).
    await deps.deliveries.release(`delivery#${target.deliveryKey}`);
    const known = error instanceof ServiceError ? error : undefined;
    // A blocked application stays blocked until someone asks the portal's support: an operator must hear of it.
    const level = known?.code === 'UPSTREAM_BLOCKED' ? 'error' : 'warn';
    deps.logger[level]('typing for event failed', {
      replay: {
        portal: portal.domain,
        botId,
        dialogId,
        method: target.api === 'v2' ? NOTIFY_METHOD : SEND_TYPING_METHOD,
      },
      event: event.name,
      outcome: known?.code ?? 'INTERNAL_ERROR',
      upstreamStatus: known?.upstreamStatus,
      upstreamCode: known?.upstreamCode,
      error: known ? undefined : error,
    });
    return { botId, dialogId, outcome: known?.code ?? 'INTERNAL_ERROR', upstreamStatus: known?.upstreamStatus };
  }
}
