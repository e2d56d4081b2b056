import { Bitrix24Error } from '../bitrix24/errors.js';
import type { Deadline } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import type { PortalClient } from '../portal/portal-client.js';
import { upstreamFailure, type PortalCredentials } from '../portal/index.js';
import type { SendTypingOutcome } from './send-typing.js';

/**
 * The chat-bot API v2 indicator, `imbot.v2.Chat.InputAction.notify`: a bot shows "typing", or one of the agent
 * statuses ("Agent is thinking..."), for a duration of 1–600 s it chooses (the platform's default without one).
 */
export const NOTIFY_METHOD = 'imbot.v2.Chat.InputAction.notify';

// The status names are the lower-case tails of the platform's `IMBOT_AGENT_ACTION_*` codes, in the docs' order.
import { TYPING_STATUSES, type TypingStatus } from '../contract/typing-status.js';
export { TYPING_STATUSES, type TypingStatus };

export const MAX_DURATION_SECONDS = 600;
/** A v1 indicator: the web client clears it about 35 s after the last call. */
export const V1_INDICATOR_SECONDS = 35;

/** The platform's code for a status; none for plain typing. */
export function statusMessageCode(status: TypingStatus | undefined): string | undefined {
  return status === undefined || status === 'typing' ? undefined : `IMBOT_AGENT_ACTION_${status.toUpperCase()}`;
}

export function validateDurationSeconds(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  // A number, not a numeric string: the platform takes whole seconds, and "60" is a caller's mistake to hear of.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DURATION_SECONDS) {
    throw new ServiceError(
      'DURATION_INVALID',
      `durationSeconds must be a whole number of seconds from 1 to ${MAX_DURATION_SECONDS}.`,
    );
  }
  return value;
}

const KNOWN_STATUSES = new Set<unknown>(TYPING_STATUSES);

export function validateTypingStatus(value: unknown): TypingStatus | undefined {
  if (value === undefined || value === null) return undefined;
  if (!KNOWN_STATUSES.has(value)) {
    throw new ServiceError('STATUS_INVALID', `status must be one of: ${TYPING_STATUSES.join(', ')}.`);
  }
  return value as TypingStatus;
}

export interface InputActionCall {
  portal: PortalCredentials;
  botId: number;
  dialogId: string;
  durationSeconds?: number;
  status?: TypingStatus;
  /** A fresh bot token from an event (OAuth bots); used against the stored endpoint only. */
  accessToken?: string;
}

/**
 * One `InputAction.notify`. Through an inbound webhook a v2 bot is owned by its `botToken` from the portal
 * secret; without one the call would only be refused, so it is not made.
 */
export async function notifyInputAction(
  client: PortalClient,
  input: InputActionCall,
  deadline: Deadline,
  mayRetry?: () => Promise<boolean>,
): Promise<SendTypingOutcome> {
  const { portal, botId } = input;
  const params: Record<string, unknown> = { botId, dialogId: input.dialogId };
  if (portal.webhook) {
    const botToken = portal.bots?.[String(botId)]?.botToken;
    if (!botToken) {
      throw new ServiceError(
        'PORTAL_MISCONFIGURED',
        `Bot ${botId} is a v2 bot on a webhook portal, and its record in the portal secret holds no botToken.`,
      );
    }
    params.botToken = botToken;
  }
  if (input.durationSeconds !== undefined) params.duration = input.durationSeconds;
  const code = statusMessageCode(input.status);
  if (code !== undefined) params.statusMessageCode = code;
  try {
    const out = await client.call(portal, NOTIFY_METHOD, params, deadline, {
      accessToken: input.accessToken,
      mayRetry,
    });
    return calledOutcome(botId, out, NOTIFY_METHOD, input.durationSeconds);
  } catch (error) {
    if (!(error instanceof Bitrix24Error)) throw error;
    throw inputActionFailure(error, botId);
  }
}

/** The outcome of a portal call that answered: what the caller is told of it. */
export function calledOutcome(
  botId: number | undefined,
  out: { attempts: number; status: number; refreshed: boolean },
  method: NonNullable<SendTypingOutcome['method']>,
  indicatorSeconds: number | undefined,
): SendTypingOutcome {
  return {
    botId,
    attempts: out.attempts,
    upstreamStatus: out.status,
    refreshed: out.refreshed,
    coalesced: false,
    method,
    indicatorSeconds,
  };
}

/** The errors the method's page lists, in the service's terms; anything else is a portal failure. */
export function inputActionFailure(error: Bitrix24Error, botId: number): ServiceError {
  const options = { upstreamStatus: error.status, upstreamCode: error.code, attempts: error.attempts, cause: error };
  switch (error.code) {
    case 'BOT_NOT_FOUND':
      return new ServiceError('BOT_ID_ERROR', `The portal has no bot ${botId}.`, options);
    case 'BOT_OWNERSHIP_ERROR':
      return new ServiceError(
        'BOT_ID_ERROR',
        `Bot ${botId} belongs to another application, or the stored botToken is not its own.`,
        options,
      );
    // Both are ours to prevent: the stored record, or the service, left out what every v2 call needs.
    case 'BOT_TOKEN_NOT_SPECIFIED':
    case 'BOT_ID_REQUIRED':
      return new ServiceError(
        'PORTAL_MISCONFIGURED',
        `The portal refused the call for bot ${botId} with ${error.code}; check its record in the portal secret.`,
        options,
      );
    // The method's page gives ACCESS_DENIED one meaning: the bot is not a participant in the chat.
    case 'ACCESS_DENIED':
      return new ServiceError('BOT_NOT_IN_CHAT', `Bot ${botId} is not a member of this chat.`, options);
    default:
      return upstreamFailure(error);
  }
}
