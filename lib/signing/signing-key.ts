import { randomBytes } from 'node:crypto';

/**
 * Signing keys as Standard Webhooks spells them: `whsec_` and the base64 of the key's bytes. One check for the
 * service (stored keys), the typed client (the caller's key) and the CLI.
 */
export const KEY_PREFIX = 'whsec_';
const KEY_TEXT = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
/** Shorter keys are refused: an HMAC key of fewer than 16 random bytes can be brute-forced offline. */
export const MIN_KEY_BYTES = 16;

export function keyBytes(key: string): Buffer {
  return Buffer.from(key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length) : key, 'base64');
}

export function isSigningKey(key: unknown): key is string {
  return typeof key === 'string' && KEY_TEXT.test(key) && keyBytes(key).length >= MIN_KEY_BYTES;
}

export function generateSigningKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64');
}
