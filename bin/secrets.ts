import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../lib/config/index.js';
import { Credentials } from '../lib/credentials/index.js';
import { createFileStore } from '../lib/credentials/file-store.js';
import { createSecretsManagerStore } from '../lib/credentials/secrets-manager-store.js';
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
  const prefix = stringOption(values, 'prefix') ?? (stage === undefined ? io.env.SECRETS_PREFIX?.trim() || undefined : undefined);
  const rawSource = stringOption(values, 'source') ?? (io.env.CREDENTIALS_SOURCE?.trim() || DEFAULT_SOURCE);
  let config;
  try {
    config = loadConfig({ STAGE: stage ?? DEFAULT_STAGE, SECRETS_PREFIX: prefix, CREDENTIALS_SOURCE: rawSource });
  } catch (error) {
    if (error instanceof ConfigError) {
      const option = { CREDENTIALS_SOURCE: '--source', SECRETS_PREFIX: '--prefix', STAGE: '--stage' }[error.variable] ?? error.variable;
      throw usageError(`${option}: ${error.message.slice(error.variable.length + 2)}`);
    }
    throw error;
  }
  // Store failures reach the operator as errors; a log line on top would only repeat them.
  const logger = createLogger({ level: 'error', sink: () => undefined });
  const cache = { ttlMs: 0, staleMs: 0 };

  if (config.credentialsSource.kind === 'file') {
    const path = resolve(io.cwd, config.credentialsSource.path);
    const store = createFileStore(path);
    const credentials = new Credentials(store, config.secretsPrefix, logger, cache);
    return {
      source: `file:${path}`,
      prefix: config.secretsPrefix,
      store,
      credentials,
      names: credentials.names,
      async listPortals() {
        let text: string;
        try {
          text = await readFile(path, 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
          throw error;
        }
        return portalsAmong(Object.keys(JSON.parse(text) as Record<string, unknown>), config.secretsPrefix);
      },
    };
  }

  // One SDK client for the store and for ListSecrets; it honours AWS_ENDPOINT_URL_SECRETS_MANAGER.
  const client = new SecretsManagerClient({ maxAttempts: 3 });
  const store = createSecretsManagerStore({ timeoutMs: TIMEOUT_MS, client });
  const credentials = new Credentials(store, config.secretsPrefix, logger, cache);
  return {
    source: 'secrets-manager',
    prefix: config.secretsPrefix,
    store,
    credentials,
    names: credentials.names,
    async listPortals() {
      const names: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await client.send(
          new ListSecretsCommand({
            // The name filter matches prefixes; the exact prefix check below drops look-alikes.
            Filters: [{ Key: 'name', Values: [`${config.secretsPrefix}/portals/`] }],
            MaxResults: 100,
            NextToken: nextToken,
          }),
          { abortSignal: AbortSignal.timeout(TIMEOUT_MS) },
        );
        for (const secret of page.SecretList ?? []) if (secret.Name) names.push(secret.Name);
        nextToken = page.NextToken;
      } while (nextToken);
      return portalsAmong(names, config.secretsPrefix);
    },
  };
}

function portalsAmong(names: string[], prefix: string): string[] {
  const start = `${prefix}/portals/`;
  return names
    .filter((name) => name.startsWith(start) && name.length > start.length)
    .map((name) => name.slice(start.length))
    .sort();
}
