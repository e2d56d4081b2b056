import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CredentialsFormatError, parsePortalCredentials, type PortalCredentials } from '../../../lib/portal/index.js';
import { notFound, usageError } from '../../outcome.js';

/**
 * OAuth data as an operator has it at hand: our secret's `oauth` block (camelCase), or Bitrix24's own token
 * answer (snake_case) plus `client_id`/`client_secret` of the application.
 */
export function oauthFrom(json: Record<string, unknown>): {
  oauth: Record<string, unknown>;
  memberId?: string;
  applicationToken?: string;
} {
  const source = json.oauth && typeof json.oauth === 'object' ? (json.oauth as Record<string, unknown>) : json;
  const pick = (...keys: string[]) => keys.map((key) => source[key] ?? json[key]).find((value) => value !== undefined);
  const expiresIn = Number(pick('expires_in'));
  const expiresAt =
    pick('expiresAt', 'expires') ??
    (Number.isFinite(expiresIn) ? Math.floor(Date.now() / 1000) + expiresIn : undefined);
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  return {
    oauth: {
      clientId: pick('clientId', 'client_id'),
      clientSecret: pick('clientSecret', 'client_secret'),
      accessToken: pick('accessToken', 'access_token'),
      refreshToken: pick('refreshToken', 'refresh_token'),
      expiresAt: typeof expiresAt === 'string' && /^\d+$/.test(expiresAt) ? Number(expiresAt) : expiresAt,
      clientEndpoint: pick('clientEndpoint', 'client_endpoint'),
      serverEndpoint: pick('serverEndpoint', 'server_endpoint'),
    },
    memberId: text(pick('memberId', 'member_id')),
    applicationToken: text(pick('applicationToken', 'application_token')),
  };
}

/** The JSON object of the `--oauth-json` file, relative to the operator's folder. */
export async function readOauthJson(cwd: string, file: string): Promise<Record<string, unknown>> {
  const path = resolve(cwd, file);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw notFound('FILE_NOT_FOUND', `--oauth-json: ${path} does not exist`);
    throw usageError(`--oauth-json: ${path} is not a JSON file (${(error as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw usageError(`--oauth-json: ${path} must hold a JSON object`);
  return json as Record<string, unknown>;
}

/** Credentials the operator gave, read as the service reads its secret; what is wrong with them is a usage error. */
export function parseGivenPortal(fields: Record<string, unknown>, name: string): PortalCredentials {
  try {
    // The sandbox and the tests store loopback portals; a deployed function still refuses them.
    return parsePortalCredentials(JSON.stringify(fields), name, { allowLoopback: true });
  } catch (error) {
    if (error instanceof CredentialsFormatError) throw usageError(error.message.replace(`secret ${name}: `, ''));
    throw error;
  }
}
