import { normalizeDomain } from '../portal/index.js';
import { ServiceError } from '../errors/index.js';
import { validateDurationSeconds, validateTypingStatus, type TypingStatus } from '../imbot/input-action.js';
import { validateBotId, validateDialogId } from '../imbot/send-typing.js';

/**
 * The body of `POST /typing`: `{"portal": "example.bitrix24.com", "dialogId": "chat12", "botId": 39}`, and for a
 * v2 bot optionally `"durationSeconds": 120, "status": "thinking"`.
 */
export interface TypingRequestBody {
  portal: string;
  dialogId: string;
  botId?: number;
  /** 1–600: how long a v2 bot's indicator shows. */
  durationSeconds?: number;
  /** `typing` (the default) or an agent status such as `thinking`. */
  status?: TypingStatus;
}

const KNOWN_FIELDS = new Set(['portal', 'dialogId', 'botId', 'durationSeconds', 'status']);

export function parseTypingRequest(body: Buffer): TypingRequestBody {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ServiceError('BODY_INVALID', 'Body is not valid JSON.');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ServiceError('BODY_INVALID', 'Body must be a JSON object.');
  }
  const fields = raw as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0)
    throw new ServiceError('BODY_INVALID', `Unknown field(s): ${unknown.slice(0, 5).join(', ')}.`);
  if (typeof fields.portal !== 'string')
    throw new ServiceError('BODY_INVALID', 'portal must be a string (the portal domain).');
  const portal = normalizeDomain(fields.portal);
  if (!portal) throw new ServiceError('PORTAL_INVALID', 'portal must be a host name such as example.bitrix24.com.');
  if (
    fields.dialogId !== undefined &&
    fields.dialogId !== null &&
    typeof fields.dialogId !== 'string' &&
    typeof fields.dialogId !== 'number'
  ) {
    throw new ServiceError('BODY_INVALID', 'dialogId must be a string.');
  }
  if (
    fields.botId !== undefined &&
    fields.botId !== null &&
    typeof fields.botId !== 'number' &&
    typeof fields.botId !== 'string'
  ) {
    throw new ServiceError('BODY_INVALID', 'botId must be a number.');
  }
  const dialogId = validateDialogId(fields.dialogId);
  const botId = validateBotId(fields.botId);
  const durationSeconds = validateDurationSeconds(fields.durationSeconds);
  const status = validateTypingStatus(fields.status);
  return {
    portal,
    dialogId,
    ...(botId !== undefined ? { botId } : {}),
    ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    ...(status !== undefined ? { status } : {}),
  };
}
