import { Bitrix24Error } from '../bitrix24/errors.js';
import { upstreamFailure } from '../portal/upstream-errors.js';
import type { PortalClient } from '../portal/portal-client.js';
import type { PortalCredentials } from '../portal/index.js';
import type { Deadline } from '../deadline/index.js';
import { ServiceError } from '../errors/index.js';
import type { TypingReservation } from './typing-gate.js';

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
}

export interface SendTypingOutcome {
  botId: number | undefined;
  /** Portal attempts made for this request: 0 when it was coalesced into a recent call. */
  attempts: number;
  upstreamStatus: number;
  refreshed: boolean;
  coalesced: boolean;
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
  if (!reservation) return sendTypingCall(client, input, botId, deadline);
  return reservation.run(({ mayRetry }) => sendTypingCall(client, input, botId, deadline, mayRetry));
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
    const out = await client.call<boolean>(input.portal, 'imbot.chat.sendTyping', params, deadline, {
      accessToken: input.accessToken,
      mayRetry,
    });
    return { botId, attempts: out.attempts, upstreamStatus: out.status, refreshed: out.refreshed, coalesced: false };
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
