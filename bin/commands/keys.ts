import { createHash } from 'node:crypto';
import { CredentialsFormatError } from '../../lib/portal/index.js';
import { parseTypingKeys } from '../../lib/portal/typing-keys.js';
import { generateSigningKey } from '../../lib/signing/standard-webhooks.js';
import type { CommandGroup, CommandSpec, SecretsContext } from '../command.js';
import { failed, notFound } from '../outcome.js';
import { TAKES_EFFECT } from '../takes-effect.js';

/** A short, non-secret name for a key, so operators can tell keys apart without seeing them. */
export function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** The stored signing keys, oldest first; undefined when the secret does not exist. */
export async function readTypingKeys(secrets: SecretsContext): Promise<string[] | undefined> {
  const name = secrets.names.typingKeys;
  const raw = await secrets.store.read(name);
  if (raw === undefined) return undefined;
  try {
    return parseTypingKeys(raw, name);
  } catch (error) {
    if (error instanceof CredentialsFormatError) throw failed('SECRET_MALFORMED', error.message, { secret: name });
    throw error;
  }
}

const generate: CommandSpec = {
  name: 'generate',
  summary: 'print a new whsec_ signing key',
  description: ['Prints a new random signing key (32 bytes, whsec_<base64>). Nothing is stored.'],
  options: {},
  usesSecrets: false,
  examples: ['bitrix24-typing keys generate'],
  async run() {
    const key = generateSigningKey();
    return { json: { key, keyId: keyId(key) }, human: [key] };
  },
};

const rotate: CommandSpec = {
  name: 'rotate',
  summary: 'add a signing key to <prefix>/typing-keys, or --retire the old ones',
  description: [
    'Rotation has two steps, because every caller must move to the new key before the old one stops working:',
    '  1. keys rotate           adds a new key (creating the secret if missing) and prints it once;',
    '                           hand it to the callers: it is their credential.',
    '  2. keys rotate --retire  once every caller uses the new key, removes every key but the newest.',
    'Keys are kept oldest first; the newest is last. The key goes to stdout alone, notes to stderr.',
  ],
  options: { retire: { type: 'boolean', description: 'remove every key but the newest (adds none)' } },
  usesSecrets: true,
  examples: [
    'bitrix24-typing keys rotate --stage prod',
    'bitrix24-typing keys rotate --retire --stage prod',
    'bitrix24-typing keys rotate --stage prod --region us-east-1',
  ],
  async run(ctx) {
    const secrets = ctx.secrets();
    const secret = secrets.names.typingKeys;
    const existing = await ctx.progress(`Reading ${secret}`, () => readTypingKeys(secrets));

    if (ctx.values.retire === true) {
      if (existing === undefined)
        throw notFound('KEYS_NOT_FOUND', `${secret} does not exist in ${secrets.source}; run "keys rotate" first.`, {
          secret,
        });
      const kept = existing.at(-1) as string;
      const retired = existing.slice(0, -1);
      if (retired.length > 0) {
        await ctx.progress(`Writing ${secret}`, () => secrets.store.write(secret, JSON.stringify({ keys: [kept] })));
      }
      return {
        json: { secret, source: secrets.source, retired: retired.map(keyId), kept: keyId(kept), liveKeys: 1 },
        human:
          retired.length === 0
            ? [`Nothing to retire: ${secret} holds one key (${keyId(kept)}).`]
            : [
                `Retired ${retired.length} key(s) (${retired.map(keyId).join(', ')}); ${keyId(kept)} is the only live key in ${secret}.`,
              ],
        notes: retired.length === 0 ? [] : [TAKES_EFFECT.keysRetired],
      };
    }

    const key = generateSigningKey();
    const keys = [...(existing ?? []), key];
    await ctx.progress(`Writing ${secret}`, () => secrets.store.write(secret, JSON.stringify({ keys })));
    return {
      json: {
        secret,
        source: secrets.source,
        key,
        keyId: keyId(key),
        created: existing === undefined,
        liveKeys: keys.length,
      },
      human: [key],
      notes: [
        `${existing === undefined ? 'Created' : 'Added to'} ${secret} in ${secrets.source}: key ${keyId(key)}, ${keys.length} live key(s).`,
        'This is the only time the key is shown. Hand it to the callers;',
        keys.length > 1
          ? 'once all of them use it, run "keys rotate --retire" to remove the old key(s).'
          : 'they sign POST /typing with it.',
        TAKES_EFFECT.keyAdded,
      ],
    };
  },
};

export const keysGroup: CommandGroup = {
  name: 'keys',
  summary: 'signing keys for POST /typing',
  commands: [generate, rotate],
};
