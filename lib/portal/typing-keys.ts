import { registerSecret } from '../logging/index.js';
import { isSigningKey, KEY_PREFIX, MIN_KEY_BYTES } from '../signing/signing-key.js';
import { CredentialsFormatError } from './portal-credentials.js';

/**
 * `<prefix>/typing-keys`: `{"keys": ["whsec_..."]}`. Every listed key is live; during a rotation the new key
 * is added first, callers move over, then the old key is removed.
 */
export function parseTypingKeys(json: string, secretName: string): string[] {
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
  return keys.map((key, index) => {
    if (!isSigningKey(key)) {
      throw new CredentialsFormatError(
        `secret ${secretName}: keys[${index}] is not a whsec_ key of ${MIN_KEY_BYTES}+ bytes`,
      );
    }
    registerSecret(key);
    registerSecret(key.slice(KEY_PREFIX.length));
    return key;
  });
}
