/** Request parameters the way Bitrix24 reads them: PHP's `$_REQUEST`, from the query and a form or JSON body. */
import type { IncomingMessage } from 'node:http';
import { isPlainObject } from './php-semantics.js';
import { RestError } from './rest-protocol.js';

const KNOWN_DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Decodes `a[b][c]=v&list[]=x` the way PHP fills `$_REQUEST`, which is what Bitrix24 reads. */
export function decodePhpForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const match = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(rawKey);
    const path = match
      ? [match[1] as string, ...[...(match[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] as string)]
      : [rawKey];
    if (path.some((key) => KNOWN_DANGEROUS_KEYS.has(key))) continue;
    assignPath(out, path, value);
  }
  return out;
}

function nextIndex(node: Record<string, unknown>): string {
  const numeric = Object.keys(node)
    .filter((k) => /^\d+$/.test(k))
    .map(Number);
  return String(numeric.length === 0 ? 0 : Math.max(...numeric) + 1);
}

function assignPath(target: Record<string, unknown>, path: string[], value: string): void {
  let node = target;
  path.forEach((segment, index) => {
    const key = segment === '' ? nextIndex(node) : segment;
    if (index === path.length - 1) {
      node[key] = value;
      return;
    }
    const child = node[key];
    if (typeof child === 'object' && child !== null) {
      node = child as Record<string, unknown>;
    } else {
      const fresh: Record<string, unknown> = {};
      node[key] = fresh;
      node = fresh;
    }
  });
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON body when the content type says so, else a PHP form; a JSON body that is not an object reads as empty. */
export function parseBody(req: IncomingMessage, text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new RestError(400, 'INVALID_REQUEST', 'Invalid JSON body');
    }
    return isPlainObject(parsed) ? parsed : {};
  }
  return decodePhpForm(text);
}

/** PHP's `$_REQUEST`: query first, the body overrides. Throws `RestError` for a malformed JSON body. */
export function requestParams(req: IncomingMessage, requestUrl: URL, bodyText: string): Record<string, unknown> {
  return { ...decodePhpForm(requestUrl.search.slice(1)), ...parseBody(req, bodyText) };
}
