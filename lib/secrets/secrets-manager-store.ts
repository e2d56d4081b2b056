import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretStoreError, type SecretStore } from './secret-store.js';

// A version stage of our own: claims never move AWSCURRENT, so readers never see a claim's value.
const CLAIM_STAGE = 'REFRESH_CLAIM';

export function createSecretsManagerStore(options: {
  timeoutMs: number;
  client?: SecretsManagerClient;
  /** The customer-managed KMS key secrets this store creates are encrypted with; default: aws/secretsmanager. */
  kmsKeyId?: string;
}): SecretStore {
  // Built once per container and reused; the SDK honours AWS_ENDPOINT_URL_SECRETS_MANAGER for local emulators.
  const client = options.client ?? new SecretsManagerClient({ maxAttempts: 2 });
  const signal = (timeoutMs?: number) => AbortSignal.timeout(timeoutMs ?? options.timeoutMs);

  return {
    async read(name) {
      try {
        const out = await client.send(new GetSecretValueCommand({ SecretId: name }), { abortSignal: signal() });
        return out.SecretString;
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return undefined;
        throw new SecretStoreError(`GetSecretValue failed for ${name}`, { cause: error });
      }
    },

    async write(name, value, { versionKey, timeoutMs } = {}) {
      try {
        await client.send(
          new PutSecretValueCommand({ SecretId: name, SecretString: value, ClientRequestToken: versionKey }),
          { abortSignal: signal(timeoutMs) },
        );
        return 'written';
      } catch (error) {
        if (error instanceof ResourceExistsException) return 'conflict';
        if (!(error instanceof ResourceNotFoundException)) {
          throw new SecretStoreError(`PutSecretValue failed for ${name}`, { cause: error });
        }
      }
      try {
        await client.send(
          new CreateSecretCommand({
            Name: name,
            SecretString: value,
            ClientRequestToken: versionKey,
            KmsKeyId: options.kmsKeyId,
          }),
          {
            abortSignal: signal(timeoutMs),
          },
        );
        return 'written';
      } catch (error) {
        if (error instanceof ResourceExistsException) return 'conflict';
        throw new SecretStoreError(`CreateSecret failed for ${name}`, { cause: error });
      }
    },

    async claim(name, key, owner, { timeoutMs } = {}) {
      try {
        // PutSecretValue is idempotent per ClientRequestToken: the same token with another value is refused
        // with ResourceExistsException. That makes a deterministic token an exclusive claim.
        await client.send(
          new PutSecretValueCommand({
            SecretId: name,
            SecretString: owner,
            ClientRequestToken: key,
            VersionStages: [CLAIM_STAGE],
          }),
          { abortSignal: signal(timeoutMs) },
        );
        return true;
      } catch (error) {
        if (error instanceof ResourceExistsException) return false;
        throw new SecretStoreError(`claim failed for ${name}`, { cause: error });
      }
    },

    list: (prefix, { timeoutMs } = {}) => listSecretNames(client, prefix, signal(timeoutMs)),

    async readClaim(name, key, { timeoutMs } = {}) {
      try {
        // A ClientRequestToken becomes the VersionId of the version it created.
        const out = await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: key }), {
          abortSignal: signal(timeoutMs),
        });
        return out.SecretString;
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return undefined;
        throw new SecretStoreError(`reading claim failed for ${name}`, { cause: error });
      }
    },
  };
}

async function listSecretNames(
  client: SecretsManagerClient,
  prefix: string,
  abortSignal: AbortSignal,
): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      // The name filter matches prefixes loosely; the exact check below drops look-alikes.
      const filter = { Filters: [{ Key: 'name' as const, Values: [prefix] }], MaxResults: 100, NextToken: nextToken };
      const page = await client.send(new ListSecretsCommand(filter), { abortSignal });
      for (const secret of page.SecretList ?? []) if (secret.Name?.startsWith(prefix)) names.push(secret.Name);
      nextToken = page.NextToken;
    } while (nextToken);
  } catch (error) {
    throw new SecretStoreError(`ListSecrets failed for ${prefix}`, { cause: error });
  }
  return names.sort();
}
