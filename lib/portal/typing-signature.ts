import { isNoKeyMatched, verifySignature, type VerifiedRequest } from '../signing/standard-webhooks.js';
import type { Credentials } from './credentials.js';

// Per container: when each set of credentials last re-read its keys for a signature no cached key matched.
const lastReread = new WeakMap<Credentials, number>();

/**
 * Verifies a `POST /typing` request against the live signing keys. A signature that matches none of the cached
 * keys may carry a key rotated in since they were read: the keys are then read again past the cache, at most once
 * per `rereadMs` per container, so forged requests cannot turn into Secrets Manager calls. If that read fails the
 * request keeps its 401. A retired key keeps working until the cache expires (README, "Emergency revocation").
 */
export async function verifyTypingSignature(
  credentials: Credentials,
  input: {
    headers: Record<string, string | undefined>;
    body: Buffer;
    toleranceSeconds: number;
    rereadMs: number;
    now?: () => number;
  },
): Promise<VerifiedRequest> {
  const { headers, body, toleranceSeconds } = input;
  const cached = await credentials.typingKeys();
  try {
    return verifySignature({ headers, body, keys: cached, toleranceSeconds });
  } catch (error) {
    if (!isNoKeyMatched(error)) throw error;
    const now = (input.now ?? Date.now)();
    if (now - (lastReread.get(credentials) ?? -Infinity) < input.rereadMs) throw error;
    lastReread.set(credentials, now);
    const fresh = await credentials.typingKeys({ fresh: true }).catch(() => undefined);
    if (fresh === undefined || fresh.every((key) => cached.includes(key))) throw error;
    return verifySignature({ headers, body, keys: fresh, toleranceSeconds });
  }
}
