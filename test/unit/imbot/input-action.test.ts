import { describe, expect, it } from 'vitest';
import { Bitrix24Error } from '../../../lib/bitrix24/errors.js';
import { ERROR_CATALOGUE } from '../../../lib/errors/index.js';
import { inputActionFailure, statusMessageCode, TYPING_STATUSES } from '../../../lib/imbot/input-action.js';
import { TYPING_STATUSES as CLIENT_STATUSES } from '../../../lib/client/index.js';

describe('statusMessageCode', () => {
  it.each([
    ['thinking', 'IMBOT_AGENT_ACTION_THINKING'],
    ['reading_docs', 'IMBOT_AGENT_ACTION_READING_DOCS'],
    ['composing', 'IMBOT_AGENT_ACTION_COMPOSING'],
  ] as const)('names %s by the platform code %s', (status, code) => {
    // Act / Assess
    expect(statusMessageCode(status)).toBe(code);
  });

  it('sends no code for plain typing, the platform’s default indicator', () => {
    // Act / Assess
    expect([statusMessageCode('typing'), statusMessageCode(undefined)]).toEqual([undefined, undefined]);
  });

  it('knows the eleven agent statuses of the method’s page, and the client offers the same ones', () => {
    // Act / Assess
    expect(TYPING_STATUSES.filter((s) => s !== 'typing').map((s) => statusMessageCode(s))).toEqual([
      'IMBOT_AGENT_ACTION_THINKING',
      'IMBOT_AGENT_ACTION_SEARCHING',
      'IMBOT_AGENT_ACTION_GENERATING',
      'IMBOT_AGENT_ACTION_ANALYZING',
      'IMBOT_AGENT_ACTION_PROCESSING',
      'IMBOT_AGENT_ACTION_TRANSLATING',
      'IMBOT_AGENT_ACTION_CONNECTING',
      'IMBOT_AGENT_ACTION_CHECKING',
      'IMBOT_AGENT_ACTION_CALCULATING',
      'IMBOT_AGENT_ACTION_READING_DOCS',
      'IMBOT_AGENT_ACTION_COMPOSING',
    ]);
    expect([...CLIENT_STATUSES]).toEqual([...TYPING_STATUSES]);
  });
});

describe('inputActionFailure', () => {
  it.each([
    ['BOT_NOT_FOUND', 400, 'BOT_ID_ERROR', 404],
    ['BOT_OWNERSHIP_ERROR', 403, 'BOT_ID_ERROR', 404],
    ['ACCESS_DENIED', 403, 'BOT_NOT_IN_CHAT', 409],
    ['BOT_TOKEN_NOT_SPECIFIED', 400, 'PORTAL_MISCONFIGURED', 500],
    ['BOT_ID_REQUIRED', 400, 'PORTAL_MISCONFIGURED', 500],
    ['QUERY_LIMIT_EXCEEDED', 503, 'UPSTREAM_RATE_LIMITED', 429],
    ['INTERNAL_SERVER_ERROR', 500, 'UPSTREAM_ERROR', 502],
  ] as const)('turns the portal’s %s (%i) into %s (%i)', (upstream, upstreamStatus, code, status) => {
    // Act
    const error = inputActionFailure(new Bitrix24Error(upstream, upstreamStatus, 'from the portal'), 567);

    // Assess
    expect([error.code, error.status, error.upstreamCode, error.upstreamStatus]).toEqual([
      code,
      status,
      upstream,
      upstreamStatus,
    ]);
    expect(ERROR_CATALOGUE[error.code].status).toBe(status);
  });
});
