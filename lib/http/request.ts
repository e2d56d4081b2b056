import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ServiceError } from '../errors/index.js';

/** Header names lower-cased: HTTP APIs already do this, local emulators do not always. */
export function headersOf(event: Pick<APIGatewayProxyEventV2, 'headers'>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

/**
 * The exact bytes the client sent. An HTTP API base64-encodes bodies it considers binary (form posts among
 * them); serverless-offline may pass them raw. Signatures and size limits apply to the decoded bytes.
 */
export function rawBody(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded'>, maxBytes: number): Buffer {
  // serverless-offline hands a falsy JSON payload (`false`, `0`) over as that value, not as text; API Gateway
  // always sends a string. Both mean the same bytes on the wire.
  const sent: unknown = event.body;
  const body = typeof sent === 'string' ? sent : sent === undefined || sent === null ? '' : String(sent);
  if (event.isBase64Encoded) {
    // Refuse before decoding: base64 of maxBytes is at most 4/3 of it.
    if (body.length > Math.ceil(maxBytes / 3) * 4 + 4) tooLarge(maxBytes);
    const bytes = Buffer.from(body, 'base64');
    if (bytes.length > maxBytes) tooLarge(maxBytes);
    return bytes;
  }
  // A JS string of N UTF-16 units is at least N bytes of UTF-8, so a long one can be refused without encoding.
  if (body.length > maxBytes) tooLarge(maxBytes);
  const bytes = Buffer.from(body, 'utf8');
  if (bytes.length > maxBytes) tooLarge(maxBytes);
  return bytes;
}

function tooLarge(maxBytes: number): never {
  throw new ServiceError('PAYLOAD_TOO_LARGE', `Body is larger than ${maxBytes} bytes.`);
}

/** Refuses any media type but `expected` (parameters such as charset are allowed). */
export function requireMediaType(headers: Record<string, string | undefined>, expected: string): void {
  const type = headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== expected) {
    throw new ServiceError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${expected}.`);
  }
}
