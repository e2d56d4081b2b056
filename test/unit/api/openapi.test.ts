import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../../lib/errors/index.js';

describe('api/openapi.yaml', () => {
  it('documents exactly the error codes the service can answer with', () => {
    // Prepare
    const text = readFileSync('api/openapi.yaml', 'utf8');
    const enumBlock = text.slice(text.lastIndexOf('enum:'));
    // Act
    const documented = [...enumBlock.matchAll(/^\s+- ([A-Z_]+)$/gm)].map((m) => m[1]);
    // Assess
    expect(new Set(documented)).toEqual(new Set(Object.keys(ERROR_CATALOGUE)));
  });

  it('documents every status the error catalogue can produce on each route', () => {
    const text = readFileSync('api/openapi.yaml', 'utf8');
    const typing = text.slice(text.indexOf('  /typing:'), text.indexOf('  /bitrix/events:'));
    const statuses = new Set(
      [
        'SIGNATURE_INVALID',
        'BODY_INVALID',
        'DIALOG_ID_EMPTY',
        'PORTAL_UNKNOWN',
        'BOT_ID_ERROR',
        'DURATION_INVALID',
        'STATUS_INVALID',
        'BOT_NOT_IN_CHAT',
        'PORTAL_MISCONFIGURED',
        'PAYLOAD_TOO_LARGE',
        'UNSUPPORTED_MEDIA_TYPE',
        'UPSTREAM_RATE_LIMITED',
        'UPSTREAM_ERROR',
        'CREDENTIALS_UNAVAILABLE',
        'UPSTREAM_TIMEOUT',
        'INTERNAL_ERROR',
      ].map((code) => ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].status),
    );
    for (const status of statuses) expect(typing).toContain(`'${status}':`);
  });
});
