import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceError } from '../../lib/errors/index.js';
import {
  HEADERS,
  SigningKeyError,
  generateSigningKey,
  signRequest,
  verifySignature,
} from '../../lib/signing/standard-webhooks.js';
import { recordScenario } from '../support/report.js';

/**
 * Property-based fuzzing of the `/typing` signature verifier. The verifier sees
 * whatever an internal caller (or anyone who can reach the route) sends: it must refuse cleanly, accept every
 * genuine signature, and refuse every tampered one.
 */

const NOW = 1_700_000_000;
const TOLERANCE = 300;
const RUNS = { numRuns: 300 };

// One RELIABILITY.md row for the whole file: how many properties held, recorded by the file's last test.
const results = { passed: 0, failed: 0 };
afterEach((context) => {
  if (context.task.name === SUMMARY) return;
  if (context.task.result?.state === 'fail') results.failed += 1;
  else results.passed += 1;
});
const SUMMARY = 'held every property above';

/** Runs `act` and returns how it ended, so a property can say exactly what it expects. */
function outcome(act: () => unknown): 'accepted' | 'SIGNATURE_INVALID' | 'KEY_REFUSED' | string {
  try {
    act();
    return 'accepted';
  } catch (error) {
    if (error instanceof ServiceError) return error.code;
    if (error instanceof SigningKeyError) return 'KEY_REFUSED';
    return `threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }
}

const verify = (headers: Record<string, string | undefined>, body: Uint8Array, keys: string[]) =>
  outcome(() =>
    verifySignature({ headers, body: Buffer.from(body), keys, toleranceSeconds: TOLERANCE, nowSeconds: NOW }),
  );

// Header values as a hostile client might send them: any text, near-misses of the real format, or nothing.
const anyText = fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 64 }), fc.constant(''));
const timestampText = fc.oneof(
  anyText,
  fc.integer({ min: NOW - 2 * TOLERANCE, max: NOW + 2 * TOLERANCE }).map(String),
  fc.stringMatching(/^\d{1,20}$/),
  fc.constantFrom('1e9', '-1', '0x65', ' 1700000000', '1700000000 ', '１７００００００００'),
);
const signatureText = fc.oneof(
  anyText,
  fc.uint8Array({ maxLength: 48 }).map((bytes) => `v1,${Buffer.from(bytes).toString('base64')}`),
  fc
    .array(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => `v1,${Buffer.from(bytes).toString('base64')}`),
      { maxLength: 20 },
    )
    .map((parts) => parts.join(' ')),
  fc.constantFrom('v1,', 'v1', 'v2,abc', 'v1,====', 'v1,' + 'A'.repeat(10_000), ' '.repeat(100), 'v1, v1, v1,'),
);
const keyText = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`),
  anyText,
  fc.constantFrom('whsec_', ''),
);
const hostileHeaders = fc.record(
  {
    [HEADERS.id]: fc.oneof(anyText, fc.constantFrom('msg.1', 'msg 1', 'x'.repeat(257), 'msg_\u00a0', 'msg_\n')),
    [HEADERS.timestamp]: timestampText,
    [HEADERS.signature]: signatureText,
    'content-type': anyText,
  },
  { requiredKeys: [] },
);

// What genuine senders use: ids without whitespace or dots, up to 256 characters.
const genuineId = fc.stringMatching(/^[A-Za-z0-9_\-:~!$&'()*+,;=@]{1,256}$/);
const genuineKey = fc.oneof(
  fc.constant(null).map(() => generateSigningKey()),
  // Standard Webhooks keys are 24 to 64 bytes.
  fc.uint8Array({ minLength: 24, maxLength: 64 }).map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`),
);
const withinTolerance = fc.integer({ min: NOW - TOLERANCE, max: NOW + TOLERANCE });

/** One byte changed to another value (XOR with a non-zero mask). */
const flip = (bytes: Uint8Array, index: number, mask: number): Buffer => {
  const out = Buffer.from(bytes);
  out[index] = (out[index] ?? 0) ^ mask;
  return out;
};
const flipAscii = (text: string, index: number, mask: number): string =>
  flip(Buffer.from(text, 'latin1'), index % text.length, mask).toString('latin1');

describe('verifySignature under fuzzing', () => {
  it('refuses arbitrary headers and bodies with SIGNATURE_INVALID, and keys outside 24-64 bytes before any check', () => {
    fc.assert(
      fc.property(
        hostileHeaders,
        fc.uint8Array({ maxLength: 512 }),
        fc.array(keyText, { maxLength: 4 }),
        (headers, body, keys) => {
          const sizes = keys.map((key) => Buffer.from(key.replace(/^whsec_/, ''), 'base64').length);
          const unusable = keys.length === 0 || sizes.some((size) => size < 24 || size > 64);
          const result = verify(headers, body, keys);
          if (unusable) expect(result).toBe('KEY_REFUSED');
          else expect(['accepted', 'SIGNATURE_INVALID']).toContain(result);
        },
      ),
      RUNS,
    );
  });

  it('refuses a forged signature over arbitrary content (never accepts what no key signed)', () => {
    fc.assert(
      fc.property(
        genuineId,
        withinTolerance,
        fc.uint8Array({ maxLength: 512 }),
        signatureText,
        genuineKey,
        (id, timestamp, body, signature, key) => {
          const headers = { [HEADERS.id]: id, [HEADERS.timestamp]: String(timestamp), [HEADERS.signature]: signature };
          expect(verify(headers, body, [key])).toBe('SIGNATURE_INVALID');
        },
      ),
      RUNS,
    );
  });

  it('accepts a valid signature over arbitrary bytes, with any live key of a rotation', () => {
    fc.assert(
      fc.property(
        genuineId,
        withinTolerance,
        fc.uint8Array({ maxLength: 2048 }),
        fc.array(genuineKey, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (id, timestamp, body, keys, pick) => {
          const key = keys[pick % keys.length] as string;
          const headers = signRequest({ body: Buffer.from(body), key, id, timestamp });
          expect(
            outcome(() =>
              verifySignature({
                headers: { ...headers },
                body: Buffer.from(body),
                keys,
                toleranceSeconds: TOLERANCE,
                nowSeconds: NOW,
              }),
            ),
          ).toBe('accepted');
        },
      ),
      RUNS,
    );
  });

  describe('refuses any single changed byte', () => {
    const signed = fc
      .record({
        id: genuineId,
        timestamp: withinTolerance,
        body: fc.uint8Array({ minLength: 1, maxLength: 1024 }),
        key: genuineKey,
      })
      .map((input) => ({
        ...input,
        headers: signRequest({
          body: Buffer.from(input.body),
          key: input.key,
          id: input.id,
          timestamp: input.timestamp,
        }),
      }));
    const position = fc.nat();
    const mask = fc.integer({ min: 1, max: 255 });
    const asciiMask = fc.integer({ min: 1, max: 127 });

    it('of the body', () => {
      fc.assert(
        fc.property(signed, position, mask, ({ headers, body, key }, at, m) => {
          expect(verify({ ...headers }, flip(body, at % body.length, m), [key])).toBe('SIGNATURE_INVALID');
        }),
        RUNS,
      );
    });

    it('of the webhook-id', () => {
      fc.assert(
        fc.property(signed, position, asciiMask, ({ headers, body, key }, at, m) => {
          const id = flipAscii(headers['webhook-id'], at, m);
          expect(verify({ ...headers, 'webhook-id': id }, body, [key])).toBe('SIGNATURE_INVALID');
        }),
        RUNS,
      );
    });

    it('of the webhook-timestamp', () => {
      fc.assert(
        fc.property(signed, position, asciiMask, ({ headers, body, key }, at, m) => {
          const timestamp = flipAscii(headers['webhook-timestamp'], at, m);
          expect(verify({ ...headers, 'webhook-timestamp': timestamp }, body, [key])).toBe('SIGNATURE_INVALID');
        }),
        RUNS,
      );
    });

    it('of the MAC carried by webhook-signature (canonically re-encoded)', () => {
      // The MAC bytes are what the signature asserts. Changes to the base64 text that leave those bytes
      // unchanged are pinned separately below (see "non-canonical base64").
      fc.assert(
        fc.property(signed, position, mask, ({ headers, body, key }, at, m) => {
          const mac = Buffer.from(headers['webhook-signature'].slice('v1,'.length), 'base64');
          const tampered = `v1,${flip(mac, at % mac.length, m).toString('base64')}`;
          expect(verify({ ...headers, 'webhook-signature': tampered }, body, [key])).toBe('SIGNATURE_INVALID');
        }),
        RUNS,
      );
    });

    it('of the "v1," version prefix of webhook-signature', () => {
      fc.assert(
        fc.property(signed, fc.integer({ min: 0, max: 2 }), asciiMask, ({ headers, body, key }, at, m) => {
          const tampered = flipAscii(headers['webhook-signature'], at, m);
          expect(verify({ ...headers, 'webhook-signature': tampered }, body, [key])).toBe('SIGNATURE_INVALID');
        }),
        RUNS,
      );
    });
  });
});

/**
 * FINDING (fuzzing, "flip any single byte of the signature"): the verifier decodes the signature with Node's
 * lenient base64 decoder, which ignores characters outside the alphabet, missing padding and the unused low
 * bits of the last character. So a signature text the sender never produced still verifies. Each test below
 * changes exactly one byte of a genuine `webhook-signature` header; each is expected to be refused.
 * Minimal counterexamples, found by the single-byte property over the header text.
 */
describe('verifySignature: non-canonical base64 in webhook-signature', () => {
  const key = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
  const body = Buffer.from('{"portal":"example.bitrix24.com","dialogId":"27"}');
  const headers = signRequest({ body, key, id: 'msg_1', timestamp: NOW });
  const signature = headers['webhook-signature'];
  const lastData = signature.length - 2; // the character before the single '=' of a 32-byte MAC

  it('the genuine header ends in one padding character (so the cases below are one-byte changes)', () => {
    expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verify({ ...headers }, body, [key])).toBe('accepted');
  });

  it('refuses a signature whose padding "=" is replaced by a character outside base64', () => {
    expect(verify({ ...headers, 'webhook-signature': `${signature.slice(0, -1)}!` }, body, [key])).toBe(
      'SIGNATURE_INVALID',
    );
  });

  it('refuses a signature whose last data character differs only in the unused low bits', () => {
    // 32 bytes = 42 whole base64 characters + 4 bits in the 43rd; its last 2 bits are padding.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const value = alphabet.indexOf(signature.charAt(lastData));
    const sibling = alphabet.charAt(value ^ 1);
    const tampered = `${signature.slice(0, lastData)}${sibling}=`;
    expect(tampered).not.toBe(signature);
    expect(verify({ ...headers, 'webhook-signature': tampered }, body, [key])).toBe('SIGNATURE_INVALID');
  });
});

// Last in the file, so every property above has run when it records the row.
it(SUMMARY, () => {
  recordScenario({
    id: 'hostile/fuzz-signature',
    section: 'Hostile input',
    scenario: 'Signature verifier under property-based fuzzing (fast-check)',
    sent: `arbitrary headers, bodies and keys; genuine signatures over arbitrary bytes; every single-byte change of body, id, timestamp and signature (${RUNS.numRuns} runs per property)`,
    got: `${results.passed} properties held, ${results.failed} failed`,
    figures: { properties: results.passed + results.failed, runsPerProperty: RUNS.numRuns, failed: results.failed },
    command: 'npm test -- test/fuzz/signature.fuzz.test.ts',
    observations: results.passed + results.failed,
  });
  expect(results.failed).toBe(0);
});
