import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HEADERS,
  SigningKeyError,
  generateSigningKey,
  signRequest,
  verifySignature,
  type SignedHeaders,
} from '../../../lib/signing/standard-webhooks.js';
import { refusal } from '../../support/refusal.js';

const NOW = 1_700_000_000;
const TOLERANCE = 300;
const BODY = Buffer.from('{"portal":"example.bitrix24.com","dialogId":"chat12","botId":39}');

/** The Standard Webhooks signature computed from the spec alone, sharing no code with the module under test. */
function independentSignature(key: string, id: string, timestamp: string, body: Buffer): string {
  const secret = Buffer.from(key.replace(/^whsec_/, ''), 'base64');
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), body]);
  return `v1,${createHmac('sha256', secret).update(content).digest('base64')}`;
}

function verify(
  headers: Partial<SignedHeaders> | Record<string, string | undefined>,
  options: { body?: Buffer; keys?: string[]; nowSeconds?: number; toleranceSeconds?: number } = {},
) {
  return verifySignature({
    headers,
    body: options.body ?? BODY,
    keys: options.keys ?? [KEY],
    toleranceSeconds: options.toleranceSeconds ?? TOLERANCE,
    nowSeconds: options.nowSeconds ?? NOW,
  });
}

const KEY = generateSigningKey();

describe('signRequest / verifySignature', () => {
  it('accepts a request it signed itself and returns its id and timestamp', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, id: 'msg_1', timestamp: NOW });

    // Act
    const verified = verify(headers);

    // Assess
    expect(verified).toEqual({ id: 'msg_1', timestamp: NOW });
  });

  it('produces the three Standard Webhooks headers with a v1 signature', () => {
    // Act
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW });

    // Assess
    expect(Object.keys(headers).sort()).toEqual([HEADERS.id, HEADERS.signature, HEADERS.timestamp].sort());
    expect(headers['webhook-id']).toMatch(/^msg_\S+$/);
    expect(headers['webhook-timestamp']).toBe(String(NOW));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('gives each request a different webhook-id when none is given', () => {
    // Act
    const first = signRequest({ body: BODY, key: KEY, timestamp: NOW });
    const second = signRequest({ body: BODY, key: KEY, timestamp: NOW });

    // Assess
    expect(first['webhook-id']).not.toBe(second['webhook-id']);
  });

  it('signs "<id>.<timestamp>.<body>" with HMAC-SHA256 keyed by the bytes after whsec_', () => {
    // Prepare
    const body = Buffer.from('{"dialogId":"27","portal":"a.bitrix24.com"}');

    // Act
    const headers = signRequest({ body, key: KEY, id: 'msg_spec', timestamp: NOW });

    // Assess
    expect(headers['webhook-signature']).toBe(independentSignature(KEY, 'msg_spec', String(NOW), body));
  });

  it('accepts a signature computed independently from the spec', () => {
    // Prepare
    const id = 'msg_independent';
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(NOW),
      'webhook-signature': independentSignature(KEY, id, String(NOW), BODY),
    };

    // Act
    const verified = verify(headers);

    // Assess
    expect(verified.id).toBe(id);
  });

  it('signs a string body and its UTF-8 bytes identically', () => {
    // Prepare
    const text = '{"note":"печатает…"}';

    // Act
    const fromString = signRequest({ body: text, key: KEY, id: 'msg_u', timestamp: NOW });
    const fromBytes = signRequest({ body: Buffer.from(text, 'utf8'), key: KEY, id: 'msg_u', timestamp: NOW });

    // Assess
    expect(fromString['webhook-signature']).toBe(fromBytes['webhook-signature']);
  });

  it('accepts a request signed with any one of several live keys', () => {
    // Prepare
    const oldKey = generateSigningKey();
    const newKey = generateSigningKey();
    const live = [oldKey, newKey];

    // Act
    const byOld = verify(signRequest({ body: BODY, key: oldKey, id: 'msg_old', timestamp: NOW }), { keys: live });
    const byNew = verify(signRequest({ body: BODY, key: newKey, id: 'msg_new', timestamp: NOW }), { keys: live });

    // Assess
    expect(byOld.id).toBe('msg_old');
    expect(byNew.id).toBe('msg_new');
  });

  it('accepts several space-separated signatures when one of them matches', () => {
    // Prepare
    const retired = generateSigningKey();
    const headers = signRequest({ body: BODY, key: [retired, KEY], id: 'msg_multi', timestamp: NOW });
    const junk = `v1,${randomBytes(32).toString('base64')}`;
    headers['webhook-signature'] = `${junk} v2,${randomBytes(32).toString('base64')} ${headers['webhook-signature']}`;

    // Act
    const verified = verify(headers);

    // Assess
    expect(headers['webhook-signature'].split(' ')).toHaveLength(4);
    expect(verified.id).toBe('msg_multi');
  });

  it.each([HEADERS.id, HEADERS.timestamp, HEADERS.signature])('rejects a request without the %s header', (name) => {
    // Prepare
    const headers: Record<string, string | undefined> = { ...signRequest({ body: BODY, key: KEY, timestamp: NOW }) };
    delete headers[name];

    // Act
    const error = refusal(() => verify(headers));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
    expect(error.status).toBe(401);
  });

  it.each([HEADERS.id, HEADERS.timestamp, HEADERS.signature])('rejects a request whose %s header is empty', (name) => {
    // Prepare
    const headers: Record<string, string | undefined> = {
      ...signRequest({ body: BODY, key: KEY, timestamp: NOW }),
      [name]: '',
    };

    // Act
    const error = refusal(() => verify(headers));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('rejects a request signed with a key that is not live', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: generateSigningKey(), timestamp: NOW });

    // Act
    const error = refusal(() => verify(headers));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('rejects a body with one byte changed after signing', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW });
    const tampered = Buffer.from(BODY);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 0x01;

    // Act
    const error = refusal(() => verify(headers, { body: tampered }));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('rejects a body with one byte appended after signing', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW });

    // Act
    const error = refusal(() => verify(headers, { body: Buffer.concat([BODY, Buffer.from(' ')]) }));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('rejects a webhook-id changed after signing', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, id: 'msg_a', timestamp: NOW });

    // Act
    const error = refusal(() => verify({ ...headers, 'webhook-id': 'msg_b' }));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('rejects a webhook-timestamp changed after signing, even within the tolerance', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW });

    // Act
    const error = refusal(() => verify({ ...headers, 'webhook-timestamp': String(NOW - 1) }));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('accepts a signature exactly as old as the tolerance', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW - TOLERANCE });

    // Act
    const verified = verify(headers);

    // Assess
    expect(verified.timestamp).toBe(NOW - TOLERANCE);
  });

  it('rejects a signature older than the tolerance', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW - TOLERANCE - 1 });

    // Act
    const error = refusal(() => verify(headers));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('rejects a signature ten minutes old under the default tolerance', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW - 600 });

    // Act
    const error = refusal(() => verify(headers, { toleranceSeconds: 300 }));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('accepts a timestamp exactly the tolerance ahead of now', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW + TOLERANCE });

    // Act
    const verified = verify(headers);

    // Assess
    expect(verified.timestamp).toBe(NOW + TOLERANCE);
  });

  it('rejects a timestamp further ahead of now than the tolerance', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW + TOLERANCE + 1 });

    // Act
    const error = refusal(() => verify(headers));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it.each(['hello', '1700000000.5', '-1700000000', '1e9', ' 1700000000', '0x6553f100', '17000000000000'])(
    'rejects a non-numeric or malformed webhook-timestamp %j',
    (timestamp) => {
      // Prepare: signed over the malformed text itself, so only the timestamp rule can refuse it.
      const headers = {
        'webhook-id': 'msg_ts',
        'webhook-timestamp': timestamp,
        'webhook-signature': independentSignature(KEY, 'msg_ts', timestamp, BODY),
      };

      // Act
      const error = refusal(() => verify(headers, { toleranceSeconds: 3600 }));

      // Assess
      expect(error.code).toBe('SIGNATURE_INVALID');
    },
  );

  it.each([['msg.1'], ['msg 1'], ['msg\t1'], ['m'.repeat(257)]])(
    'rejects a malformed webhook-id %j even when correctly signed',
    (id) => {
      // Prepare
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(NOW),
        'webhook-signature': independentSignature(KEY, id, String(NOW), BODY),
      };

      // Act
      const error = refusal(() => verify(headers));

      // Assess
      expect(error.code).toBe('SIGNATURE_INVALID');
    },
  );

  it('rejects a signature header with no v1 entry', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW });
    const mac = headers['webhook-signature'].slice('v1,'.length);

    // Act
    const error = refusal(() => verify({ ...headers, 'webhook-signature': `v2,${mac} v1a,${mac} ${mac}` }));

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it.each(['v1,', 'v1,!!!not-base64!!!', 'v1,====', `v1,${randomBytes(31).toString('base64')}`, 'v1,g0hM9SsE'])(
    'rejects junk in the signature header %j',
    (signature) => {
      // Prepare
      const headers = { ...signRequest({ body: BODY, key: KEY, timestamp: NOW }), 'webhook-signature': signature };

      // Act
      const error = refusal(() => verify(headers));

      // Assess
      expect(error.code).toBe('SIGNATURE_INVALID');
    },
  );

  it('rejects a valid MAC that is not marked v1', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW });

    // Act
    const error = refusal(() =>
      verify({ ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') }),
    );

    // Assess
    expect(error.code).toBe('SIGNATURE_INVALID');
  });

  it('refuses to verify with no key at all: a configuration error, not a caller error', () => {
    // Prepare
    const headers = signRequest({ body: BODY, key: KEY, timestamp: NOW });

    // Act / Assess
    expect(() => verify(headers, { keys: [] })).toThrow(SigningKeyError);
  });
});

describe('generateSigningKey', () => {
  it('generates a whsec_ key of 32 random bytes', () => {
    // Act
    const key = generateSigningKey();

    // Assess
    expect(key).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(key.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(generateSigningKey()).not.toBe(key);
  });
});
