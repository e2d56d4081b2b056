import { randomBytes } from 'node:crypto';

/**
 * Signing keys as Standard Webhooks spells them: `whsec_` and the base64 of the key's bytes. One check for the
 * service (stored keys), the typed client (the caller's key) and the CLI.
 */
export const KEY_PREFIX = 'whsec_';
const KEY_TEXT = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
/** The Standard Webhooks spec: a symmetric signing secret is 24 to 64 random bytes. */
export const MIN_KEY_BYTES = 24;
export const MAX_KEY_BYTES = 64;

/** A key the signer or the verifier cannot use: empty, not base64, or outside 24–64 bytes. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : key, 'base64');
}

/** A stored or configured key: `whsec_` and canonical base64 of 24–64 bytes. */
export function isSigningKey(key: unknown): key is string {
  if (typeof key !== 'string' || !KEY_TEXT.test(key)) return false;
  const length = keyBytes(key).length;
  return length >= MIN_KEY_BYTES && length <= MAX_KEY_BYTES;
}

/**
 * The bytes to key the HMAC with, as the reference libraries take them: with or without `whsec_`. Empty and
 * out-of-range keys throw instead of signing or verifying with a key anyone could guess.
 */
export function usableKeyBytes(key: unknown): Buffer {
  const bytes = typeof key === 'string' ? keyBytes(key) : Buffer.alloc(0);
  if (bytes.length < MIN_KEY_BYTES || bytes.length > MAX_KEY_BYTES) {
    throw new SigningKeyError(
      `a signing key must be ${MIN_KEY_BYTES}–${MAX_KEY_BYTES} bytes (whsec_ and base64); this one has ${bytes.length}`,
    );
  }
  return bytes;
}

export function generateSigningKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64');
}
