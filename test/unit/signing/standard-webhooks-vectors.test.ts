import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../../lib/errors/index.js';
import { SigningKeyError, signRequest, verifySignature } from '../../../lib/signing/standard-webhooks.js';

/**
 * The reference libraries' test data of the Standard Webhooks spec, run against our signer and verifier. The data
 * is copied verbatim into test/fixtures/standard-webhooks/vectors.json (its `source` names the repository, commit
 * and files); the expectations are the reference suites' own.
 */
interface Vectors {
  secret: string;
  msgId: string;
  payload: string;
  toleranceSeconds: number;
  sign: Array<{ name: string; key: string; msgId: string; timestamp: number; payload: string; expected: string }>;
  emptyKeys: string[];
  keysWithAndWithoutPrefix: string[];
  invalidSignatures: Array<{ name: string; header: string }>;
  multiSignatureDecoys: string[];
  invalidTimestamps: string[];
  requiredHeaders: string[];
  secretBytes: { min: number; max: number };
}

const vectors = JSON.parse(
  readFileSync(join(process.cwd(), 'test', 'fixtures', 'standard-webhooks', 'vectors.json'), 'utf8'),
) as Vectors;
const NOW = 1_614_265_330;
const body = Buffer.from(vectors.payload);
const genuine = signRequest({ body, key: vectors.secret, id: vectors.msgId, timestamp: NOW });

function outcome(headers: Record<string, string | undefined>, keys = [vectors.secret], nowSeconds = NOW): string {
  try {
    verifySignature({ headers, body, keys, toleranceSeconds: vectors.toleranceSeconds, nowSeconds });
    return 'accepted';
  } catch (error) {
    if (error instanceof ServiceError || error instanceof SigningKeyError) return error.name;
    throw error;
  }
}

describe('Standard Webhooks reference vectors', () => {
  it.each(vectors.sign)('signs as the reference does: $name', (vector) => {
    const headers = signRequest({
      body: vector.payload,
      key: vector.key,
      id: vector.msgId,
      timestamp: vector.timestamp,
    });
    expect(headers['webhook-signature']).toBe(vector.expected);
  });

  it.each(vectors.keysWithAndWithoutPrefix)('verifies the reference signature with the key %s', (key) => {
    expect(outcome({ ...genuine }, [key])).toBe('accepted');
  });

  it.each(vectors.emptyKeys)('refuses to sign with the empty key %j', (key) => {
    // Old behaviour: signed with an empty HMAC key, a signature anyone can forge.
    expect(() => signRequest({ body, key })).toThrow(SigningKeyError);
  });

  it.each(vectors.emptyKeys)('refuses to verify with the empty key %j', (key) => {
    // Old behaviour: verified against an empty HMAC key.
    expect(outcome({ ...genuine }, [key])).toBe('SigningKeyError');
  });

  it.each(vectors.invalidSignatures)('refuses the $name', ({ header }) => {
    expect(outcome({ ...genuine, 'webhook-signature': header })).toBe('ServiceError');
  });

  it('accepts the genuine signature among the reference decoys (v1 and v2)', () => {
    const [first, ...rest] = vectors.multiSignatureDecoys;
    const header = [first, ...rest.slice(0, 1), genuine['webhook-signature'], ...rest.slice(1)].join(' ');
    expect(outcome({ ...genuine, 'webhook-signature': header })).toBe('accepted');
  });

  it.each(vectors.requiredHeaders)('refuses a request without %s', (name) => {
    expect(outcome({ ...genuine, [name]: undefined })).toBe('ServiceError');
  });

  it.each(vectors.invalidTimestamps)('refuses the timestamp %j', (timestamp) => {
    expect(outcome({ ...genuine, 'webhook-timestamp': timestamp })).toBe('ServiceError');
  });

  it('refuses a timestamp just outside the tolerance either way', () => {
    const tolerance = vectors.toleranceSeconds;
    expect(outcome({ ...genuine }, undefined, NOW + tolerance + 1)).toBe('ServiceError');
    expect(outcome({ ...genuine }, undefined, NOW - tolerance - 1)).toBe('ServiceError');
  });

  it('verifies an empty payload', () => {
    const empty = signRequest({ body: '', key: vectors.secret, id: vectors.msgId, timestamp: NOW });
    const verified = verifySignature({
      headers: { ...empty },
      body: Buffer.alloc(0),
      keys: [vectors.secret],
      toleranceSeconds: vectors.toleranceSeconds,
      nowSeconds: NOW,
    });
    expect(verified).toEqual({ id: vectors.msgId, timestamp: NOW });
  });

  it('reads the three headers in any letter case', () => {
    // Old behaviour: `Webhook-Id` and friends were "missing" unless the caller lower-cased them.
    const headers = {
      'Webhook-Id': genuine['webhook-id'],
      'WEBHOOK-TIMESTAMP': genuine['webhook-timestamp'],
      'Webhook-Signature': genuine['webhook-signature'],
    };
    expect(outcome(headers)).toBe('accepted');
  });
});

describe('Standard Webhooks key sizes (24 to 64 bytes)', () => {
  const keyOf = (bytes: number) => `whsec_${Buffer.alloc(bytes, 7).toString('base64')}`;

  it.each([16, 23, 65])('refuses a %i-byte key in the signer and the verifier', (bytes) => {
    // Old behaviour: 16-23 bytes and 65+ bytes signed and verified.
    expect(() => signRequest({ body, key: keyOf(bytes) })).toThrow(SigningKeyError);
    expect(outcome({ ...genuine }, [keyOf(bytes)])).toBe('SigningKeyError');
  });

  it.each([vectors.secretBytes.min, 32, vectors.secretBytes.max])('signs and verifies with a %i-byte key', (bytes) => {
    const headers = signRequest({ body, key: keyOf(bytes), timestamp: NOW });
    expect(outcome({ ...headers }, [keyOf(bytes)])).toBe('accepted');
  });
});
