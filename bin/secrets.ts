import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../lib/config/index.js';
import { Credentials } from '../lib/portal/index.js';
import { createFileStore } from '../lib/secrets/file-store.js';
import { createSecretsManagerStore } from '../lib/secrets/secrets-manager-store.js';
import { createLogger } from '../lib/logging/index.js';
import { stringOption, type OptionSpec, type OptionValues, type SecretsContext } from './command.js';
import { usageError } from './outcome.js';
import type { Io } from './terminal.js';

export const DEFAULT_SOURCE = 'file:.local/credentials.json';
const DEFAULT_STAGE = 'dev';
const TIMEOUT_MS = 10_000;

export const SECRETS_OPTIONS: Record<string, OptionSpec> = {
  source: {
    type: 'string',
    value: '<src>',
    description: `secrets-manager or file:<path> (default: $CREDENTIALS_SOURCE, else ${DEFAULT_SOURCE})`,
  },
  prefix: {
    type: 'string',
    value: '<prefix>',
    description: 'secret name prefix (default: $SECRETS_PREFIX, else bitrix24-typing/<stage>)',
  },
  stage: { type: 'string', value: '<stage>', description: `stage for the default prefix (default: ${DEFAULT_STAGE})` },
};

/**
 * Resolves --source/--prefix/--stage through the service's own config validation, so the CLI accepts exactly
 * what a deployed function would. An explicit --stage beats $SECRETS_PREFIX: `--stage prod` must mean prod.
 */
export function openSecrets(values: OptionValues, io: Io): SecretsContext {
  const stage = stringOption(values, 'stage');
  const prefix =
    stringOption(values, 'prefix') ?? (stage === undefined ? io.env.SECRETS_PREFIX?.trim() || undefined : undefined);
  const rawSource = stringOption(values, 'source') ?? (io.env.CREDENTIALS_SOURCE?.trim() || DEFAULT_SOURCE);
  let config;
  try {
    config = loadConfig({
      STAGE: stage ?? DEFAULT_STAGE,
      SECRETS_PREFIX: prefix,
      CREDENTIALS_SOURCE: rawSource,
      OAUTH_SERVER: io.env.OAUTH_SERVER,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      const option =
        { CREDENTIALS_SOURCE: '--source', SECRETS_PREFIX: '--prefix', STAGE: '--stage' }[error.variable] ??
        error.variable;
      throw usageError(`${option}: ${error.message.slice(error.variable.length + 2)}`);
    }
    throw error;
  }
  // Store failures reach the operator as errors; a log line on top would only repeat them.
  const logger = createLogger({ level: 'error', sink: () => undefined });
  // The operator's machine, where the sandbox portal is on loopback; a deployed function still refuses it.
  const cache = { ttlMs: 0, staleMs: 0, allowLoopbackEndpoints: true };

  const source = config.credentialsSource;
  const path = source.kind === 'file' ? resolve(io.cwd, source.path) : undefined;
  // The SDK client honours AWS_ENDPOINT_URL_SECRETS_MANAGER.
  const store =
    path !== undefined
      ? createFileStore(path)
      : createSecretsManagerStore({ timeoutMs: TIMEOUT_MS, client: new SecretsManagerClient({ maxAttempts: 3 }) });
  const credentials = new Credentials(store, config.secretsPrefix, logger, cache);
  return {
    source: path !== undefined ? `file:${path}` : 'secrets-manager',
    prefix: config.secretsPrefix,
    store,
    credentials,
    names: credentials.names,
    oauthServer: config.oauthServer,
    async listPortals() {
      return portalsAmong(await store.list(`${config.secretsPrefix}/portals/`), config.secretsPrefix);
    },
  };
}

function portalsAmong(names: string[], prefix: string): string[] {
  const start = `${prefix}/portals/`;
  return (
    names
      // `portals/members/<id>` is the member-id index, not a portal.
      .filter((name) => name.startsWith(start) && name.length > start.length && !name.slice(start.length).includes('/'))
      .map((name) => name.slice(start.length))
      .sort()
  );
}
