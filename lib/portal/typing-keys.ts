import { registerSecret } from '../logging/index.js';
import { isSigningKey, KEY_PREFIX, keyBytes, MAX_KEY_BYTES, MIN_KEY_BYTES } from '../signing/signing-key.js';
import { CredentialsFormatError } from './portal-credentials.js';

// Keys this service generated were always 32 bytes, but until Standard Webhooks' 24-byte minimum was enforced a
// hand-made key of 16 bytes or more was accepted. Such a key is no longer live: it is left out (and reported),
// rather than failing every request with a malformed secret, so the other keys keep working.
const LEGACY_MIN_KEY_BYTES = 16;

/**
 * `<prefix>/typing-keys`: `{"keys": ["whsec_..."]}`. Every listed key of 24–64 bytes is live; during a rotation the
 * new key is added first, callers move over, then the old key is removed. `onUnusable` hears of each stored key
 * that is left out for its length (by position and length, never the key).
 */
export function parseTypingKeys(
  json: string,
  secretName: string,
  onUnusable?: (index: number, bytes: number) => void,
): string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new CredentialsFormatError(`secret ${secretName} is not JSON`);
  }
  const keys = (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new CredentialsFormatError(`secret ${secretName}: "keys" must be a non-empty array`);
  }
  const live: string[] = [];
  keys.forEach((key, index) => {
    const legacy =
      typeof key === 'string' &&
      /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(key) &&
      keyBytes(key).length >= LEGACY_MIN_KEY_BYTES;
    if (!isSigningKey(key) && !legacy) {
      throw new CredentialsFormatError(
        `secret ${secretName}: keys[${index}] is not a whsec_ key of ${MIN_KEY_BYTES}–${MAX_KEY_BYTES} bytes`,
      );
    }
    registerSecret(key as string);
    registerSecret((key as string).slice(KEY_PREFIX.length));
    if (isSigningKey(key)) live.push(key);
    else onUnusable?.(index, keyBytes(key as string).length);
  });
  if (live.length === 0) {
    throw new CredentialsFormatError(
      `secret ${secretName}: no key of ${MIN_KEY_BYTES}–${MAX_KEY_BYTES} bytes; rotate in a new one (keys rotate)`,
    );
  }
  return live;
}
