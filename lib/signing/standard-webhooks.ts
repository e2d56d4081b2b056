import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../errors/index.js';
import { SigningKeyError } from './signing-key.js';
import { usableKeyBytes } from './signing-key.js';

export { generateSigningKey, isSigningKey, SigningKeyError } from './signing-key.js';

/**
 * Request signing as in the Standard Webhooks spec (standardwebhooks.com): the signed content is
 * `<webhook-id>.<webhook-timestamp>.<raw body>`, HMAC-SHA256 with the key's bytes, sent as
 * `webhook-signature: v1,<base64>` (several, space-separated, while keys rotate).
 */
export const HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;
function hmac(key: Buffer, id: string, timestamp: string, body: Buffer | string): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** Signs a request body; callers, the CLI and the tests all sign through this one function. */
export function signRequest(input: {
  body: string | Buffer;
  key: string | string[];
  id?: string;
  timestamp?: number;
}): SignedHeaders {
  const id = input.id ?? `msg_${randomUUID()}`;
  const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000));
  const keys = Array.isArray(input.key) ? input.key : [input.key];
  if (keys.length === 0) throw new SigningKeyError('no signing key given');
  const signature = keys
    .map((key) => `v1,${hmac(usableKeyBytes(key), id, timestamp, input.body).toString('base64')}`)
    .join(' ');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
}

export interface VerifiedRequest {
  id: string;
  timestamp: number;
}

function refuse(reason: string): never {
  throw new ServiceError('SIGNATURE_INVALID', reason);
}

const NO_KEY_MATCHED = 'Signature does not match any live key.';

/**
 * Whether `error` refused a well-formed, timely request only because no key matched: what a request signed with a
 * key rotated in after the keys were read gets, and so the one refusal worth re-reading the keys for.
 */
export function isNoKeyMatched(error: unknown): boolean {
  return error instanceof ServiceError && error.code === 'SIGNATURE_INVALID' && error.message === NO_KEY_MATCHED;
}

// Bounds that keep a hostile header from costing more than a few HMACs.
const MAX_SIGNATURES = 8;
const MAX_ID_LENGTH = 256;

/** Header names are case-insensitive (RFC 9110), so a caller's `Webhook-Id` is the same header. */
function headerValue(headers: Record<string, string | undefined>, name: string): string | undefined {
  if (headers[name] !== undefined) return headers[name];
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/**
 * Verifies the three headers against every live key. Any key may match (rotation); the comparison is
 * constant-time over the decoded MACs; the timestamp must be within `toleranceSeconds` of now either way.
 * An empty key list or a key outside 24–64 bytes is a configuration error and throws `SigningKeyError`.
 */
export function verifySignature(input: {
  headers: Record<string, string | undefined>;
  body: Buffer;
  keys: string[];
  toleranceSeconds: number;
  nowSeconds?: number;
}): VerifiedRequest {
  if (input.keys.length === 0) throw new SigningKeyError('no verification key given');
  const keys = input.keys.map(usableKeyBytes);
  const id = headerValue(input.headers, HEADERS.id);
  const timestampText = headerValue(input.headers, HEADERS.timestamp);
  const signatures = headerValue(input.headers, HEADERS.signature);
  if (!id || !timestampText || !signatures)
    refuse('Missing webhook-id, webhook-timestamp or webhook-signature header.');
  if (id.length > MAX_ID_LENGTH || /[\s.]/.test(id)) refuse('webhook-id is malformed.');
  if (!/^\d{1,12}$/.test(timestampText)) refuse('webhook-timestamp must be unix seconds.');
  const timestamp = Number(timestampText);
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > input.toleranceSeconds) {
    refuse(`webhook-timestamp is outside the ${input.toleranceSeconds} s tolerance.`);
  }
  const candidates = signatures
    .split(' ')
    .filter((part) => part.startsWith('v1,'))
    .slice(0, MAX_SIGNATURES)
    .map((part) => {
      // Node's base64 decoder is lenient (stray characters, missing padding, unused low bits); accept only the
      // canonical text of the decoded bytes, so each signature has exactly one spelling.
      const text = part.slice(3);
      const bytes = Buffer.from(text, 'base64');
      return bytes.toString('base64') === text ? bytes : Buffer.alloc(0);
    });
  if (candidates.length === 0) refuse('No v1 signature present.');
  let matched = false;
  for (const key of keys) {
    const expected = hmac(key, id, timestampText, input.body);
    for (const candidate of candidates) {
      // timingSafeEqual needs equal lengths; a length mismatch reveals nothing secret.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  if (!matched) refuse(NO_KEY_MATCHED);
  return { id, timestamp };
}
