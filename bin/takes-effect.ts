import { DEFAULTS } from '../lib/config/index.js';

// When a running service acts on a change the CLI just stored, so the operator knows what to expect. The figures
// are the defaults; a deployment may set SECRETS_CACHE_TTL_SECONDS.
const TTL = `${DEFAULTS.secretsCacheTtlSeconds / 60} min (SECRETS_CACHE_TTL_SECONDS)`;

export const TAKES_EFFECT = {
  keyAdded:
    'In effect at once: a container that does not hold this key yet re-reads the keys when a request signed with ' +
    `it arrives (at most once every ${DEFAULTS.typingKeysRereadSeconds} s per container).`,
  keysRetired:
    `The retired key(s) keep working in running containers for up to ${TTL}, until their cached keys expire; ` +
    'for a leaked key see README, "Emergency revocation".',
  portalAdded:
    'In effect at once, except in a container that looked this portal up before it existed: that one answers ' +
    `PORTAL_UNKNOWN for up to ${DEFAULTS.secretsAbsentTtlSeconds} s more.`,
  portalChanged: `Running containers keep the previous version for up to ${TTL}; new containers use this one.`,
} as const;
