import { Bitrix24Error } from '../bitrix24/errors.js';
import { upstreamFailure } from '../portal/upstream-errors.js';
import type { PortalClient } from '../portal/portal-client.js';
import { botApiOf, type PortalCredentials } from '../portal/index.js';
import type { Deadline } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import {
  calledOutcome,
  NOTIFY_METHOD,
  notifyInputAction,
  V1_INDICATOR_SECONDS,
  type TypingStatus,
} from './input-action.js';
import type { TypingReservation } from './typing-gate.js';

export const SEND_TYPING_METHOD = 'imbot.chat.sendTyping';

// The dialog ids the platform accepts (`Bitrix\Im\Common::isDialogId`): a user id ("27"), or a chat id with the
// `chat`, `sg` (sonet group) or `crm` prefix, in any letter case. Digits are bounded so an id stays a number the
// portal can store; "0" is empty to PHP, so the portal refuses it.
const DIALOG_ID = /^(?:[0-9]{1,18}|(?:chat|sg|crm)[0-9]{1,18})$/i;

export function validateDialogId(value: unknown): string {
  if (value === undefined || value === null || value === '') {
    throw new ServiceError('DIALOG_ID_EMPTY', 'dialogId is required: a user id ("27") or a group chat ("chat12").');
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value !== 'string' || !DIALOG_ID.test(value) || value === '0') {
    throw new ServiceError(
      'DIALOG_ID_INVALID',
      'dialogId must be a user id ("27") or a chat ("chat12", "sg5", "crm34").',
    );
  }
  // One spelling per dialog, so coalescing sees "CHAT12" and "chat12" as the same chat.
  return value.toLowerCase();
}

export function validateBotId(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const id = typeof value === 'string' && /^[1-9]\d{0,15}$/.test(value) ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
    throw new ServiceError('BOT_ID_INVALID', 'botId must be a positive integer.');
  }
  return id;
}

export interface SendTypingInput {
  portal: PortalCredentials;
  dialogId: string;
  botId?: number;
  /** A fresh bot token from an event (OAuth bots); used against the stored endpoint only. */
  accessToken?: string;
  /** How long a v2 indicator shows (1–600 s); a v1 one always shows about 35 s. */
  durationSeconds?: number;
  /** A v2 bot's agent status; v1 shows plain typing whatever is asked. */
  status?: TypingStatus;
  /** The bot's API when the caller knows it (a v2 event comes only to a v2 bot); else its record decides. */
  api?: 'v1' | 'v2';
}

export interface SendTypingOutcome {
  botId: number | undefined;
  /** Portal attempts made for this request: 0 when it was coalesced into a recent call. */
  attempts: number;
  upstreamStatus: number;
  refreshed: boolean;
  coalesced: boolean;
  /** The portal method the request used or would have used; every path of `sendTyping` sets it. */
  method?: typeof SEND_TYPING_METHOD | typeof NOTIFY_METHOD;
  /**
   * How long the indicator is expected to show from now, at least: ~35 s after a v1 call, a v2 call's duration
   * (unknown when the portal chose it). A coalesced request counts from the call it joined.
   */
  indicatorSeconds?: number;
}

/**
 * Shows "Chat-bot is typing a message..." in a dialog. The portal answers `true` even when the bot is not in
 * the chat, so success means "the portal accepted the call", not "a user saw it".
 */
export async function sendTyping(
  client: PortalClient,
  input: SendTypingInput,
  deadline: Deadline,
  reservation?: TypingReservation,
): Promise<SendTypingOutcome> {
  // Without BOT_ID the portal picks the calling application's first bot: fine when there is only one.
  const botId = input.botId ?? input.portal.botId;
  const api = input.api ?? botApiOf(input.portal, botId);
  const call = (mayRetry?: () => Promise<boolean>) =>
    api === 'v2' && botId !== undefined
      ? notifyInputAction(client, { ...input, botId }, deadline, mayRetry)
      : sendTypingCall(client, input, botId, deadline, mayRetry);
  if (!reservation) return call();
  const out = await reservation.run(({ mayRetry }) => call(mayRetry));
  if (!out.coalesced) return out;
  // The call this request joined was made less than the window ago and shows for its full time from then.
  const full = api === 'v2' ? input.durationSeconds : V1_INDICATOR_SECONDS;
  const left = full === undefined ? undefined : Math.max(0, full - Math.ceil(reservation.windowMs / 1000));
  return left === undefined ? out : { ...out, indicatorSeconds: left };
}

async function sendTypingCall(
  client: PortalClient,
  input: SendTypingInput,
  botId: number | undefined,
  deadline: Deadline,
  mayRetry?: () => Promise<boolean>,
): Promise<SendTypingOutcome> {
  const params: Record<string, unknown> = { DIALOG_ID: input.dialogId };
  if (botId !== undefined) params.BOT_ID = botId;
  // Through an inbound webhook the imbot methods need the CLIENT_ID the bot was registered with.
  if (input.portal.webhook?.clientId) params.CLIENT_ID = input.portal.webhook.clientId;
  try {
    const out = await client.call<boolean>(input.portal, SEND_TYPING_METHOD, params, deadline, {
      accessToken: input.accessToken,
      mayRetry,
    });
    return calledOutcome(botId, out, SEND_TYPING_METHOD, V1_INDICATOR_SECONDS);
  } catch (error) {
    if (!(error instanceof Bitrix24Error)) throw error;
    const options = { upstreamStatus: error.status, upstreamCode: error.code, attempts: error.attempts, cause: error };
    switch (error.code) {
      case 'BOT_ID_ERROR':
        throw new ServiceError(
          'BOT_ID_ERROR',
          `The portal has no bot ${botId ?? '(default)'} for these credentials.`,
          options,
        );
      case 'DIALOG_ID_EMPTY':
        throw new ServiceError('DIALOG_ID_EMPTY', 'The portal reports the dialog id as empty.', options);
      default:
        throw upstreamFailure(error);
    }
  }
}
