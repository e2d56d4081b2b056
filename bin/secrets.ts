import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../lib/config/index.js';
import { Credentials } from '../lib/portal/index.js';
import { createFileStore } from '../lib/secrets/file-store.js';
import { createSecretsManagerStore } from '../lib/secrets/secrets-manager-store.js';
import { createLogger } from '../lib/logging/index.js';
import { stringOption, type OptionSpec, type OptionValues, type SecretsContext } from './command.js';
import { usageError } from './outcome.js';
import { findProjectRoot } from './project-root.js';
import type { Io } from './terminal.js';

/** The sandbox's file, at the project root wherever in the project the CLI runs. */
export const LOCAL_FILE = '.local/credentials.json';
export const DEFAULT_SOURCE = `file:${LOCAL_FILE}`;
const DEFAULT_STAGE = 'dev';
/**
 * The region serverless.yml deploys to unless `osls deploy --region` says otherwise. Secrets must live beside the
 * functions, so this, not the shell's $AWS_REGION, is the default; --region follows a deploy's --region.
 */
export const SERVICE_REGION = 'eu-central-1';
const TIMEOUT_MS = 10_000;

export const SECRETS_OPTIONS: Record<string, OptionSpec> = {
  source: {
    type: 'string',
    value: '<src>',
    description: `secrets-manager or file:<path> (default: $CREDENTIALS_SOURCE, else secrets-manager with --stage, else ${DEFAULT_SOURCE} at the project root)`,
  },
  prefix: {
    type: 'string',
    value: '<prefix>',
    description: 'secret name prefix (default: $SECRETS_PREFIX, else bitrix24-typing/<stage>)',
  },
  stage: {
    type: 'string',
    value: '<stage>',
    description: `a deployed stage: its prefix, and Secrets Manager as the source (default: ${DEFAULT_STAGE}, the local sandbox)`,
  },
  'kms-key': {
    type: 'string',
    value: '<arn>',
    description:
      'customer-managed KMS key (ARN) for secrets this creates (default: $SECRETS_KMS_KEY_ID, else AWS-managed)',
  },
  region: {
    type: 'string',
    value: '<region>',
    description: `Secrets Manager's region (default: ${SERVICE_REGION}, where serverless.yml deploys; not $AWS_REGION)`,
  },
};

/**
 * Resolves --source/--prefix/--stage through the service's own config validation, so the CLI accepts exactly
 * what a deployed function would. An explicit --stage beats $SECRETS_PREFIX: `--stage prod` must mean prod, and
 * a deployed stage's secrets are in Secrets Manager, so --stage alone never writes the local file.
 */
export function openSecrets(values: OptionValues, io: Io): SecretsContext {
  const stage = stringOption(values, 'stage');
  const prefix =
    stringOption(values, 'prefix') ?? (stage === undefined ? io.env.SECRETS_PREFIX?.trim() || undefined : undefined);
  const chosenSource = stringOption(values, 'source') ?? (io.env.CREDENTIALS_SOURCE?.trim() || undefined);
  const rawSource = chosenSource ?? (stage === undefined ? DEFAULT_SOURCE : 'secrets-manager');
  const region = stringOption(values, 'region')?.trim() ?? SERVICE_REGION;
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region))
    throw usageError(`--region: "${region}" is not a region such as eu-central-1`);
  let config;
  try {
    config = loadConfig({
      STAGE: stage ?? DEFAULT_STAGE,
      SECRETS_PREFIX: prefix,
      CREDENTIALS_SOURCE: rawSource,
      OAUTH_SERVER: io.env.OAUTH_SERVER,
      SECRETS_KMS_KEY_ID: stringOption(values, 'kms-key') ?? io.env.SECRETS_KMS_KEY_ID,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      const option =
        {
          CREDENTIALS_SOURCE: '--source',
          SECRETS_PREFIX: '--prefix',
          STAGE: '--stage',
          SECRETS_KMS_KEY_ID: '--kms-key',
        }[error.variable] ?? error.variable;
      throw usageError(`${option}: ${error.message.slice(error.variable.length + 2)}`);
    }
    throw error;
  }
  // Store failures reach the operator as errors; a log line on top would only repeat them.
  const logger = createLogger({ level: 'error', sink: () => undefined });
  // The operator's machine, where the sandbox portal is on loopback; a deployed function still refuses it.
  const cache = { ttlMs: 0, staleMs: 0, allowLoopbackEndpoints: true };

  const source = config.credentialsSource;
  const notes: string[] = [];
  let path: string | undefined;
  if (source.kind === 'file' && chosenSource === undefined) {
    // The sandbox's own file: at the project root, so the CLI finds it from any folder of the project.
    const root = findProjectRoot(io.cwd);
    if (root === undefined) notes.push(`No bitrix24-typing project in ${io.cwd} or above: used ${LOCAL_FILE} here.`);
    path = resolve(root ?? io.cwd, LOCAL_FILE);
  } else if (source.kind === 'file') {
    path = resolve(io.cwd, source.path);
  }
  // The SDK client honours AWS_ENDPOINT_URL_SECRETS_MANAGER.
  const store =
    path !== undefined
      ? createFileStore(path)
      : createSecretsManagerStore({
          timeoutMs: TIMEOUT_MS,
          client: new SecretsManagerClient({ maxAttempts: 3, region }),
          kmsKeyId: config.secretsKmsKeyId,
        });
  const credentials = new Credentials(store, config.secretsPrefix, logger, cache);
  return {
    source: path !== undefined ? `file:${path}` : 'secrets-manager',
    region: path !== undefined ? undefined : region,
    notes,
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
