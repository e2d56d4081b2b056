import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { generateSigningKey } from '../../lib/signing/standard-webhooks.js';

export function secretsClient(): SecretsManagerClient {
  return new SecretsManagerClient({});
}

/** A prefix of its own for each test, so tests sharing one moto server never see each other's secrets. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString('hex')}/test`;
}

export async function putSecret(name: string, value: unknown): Promise<void> {
  const client = secretsClient();
  const text = JSON.stringify(value);
  try {
    await client.send(new CreateSecretCommand({ Name: name, SecretString: text }));
  } catch {
    await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: text }));
  }
}

export async function readSecret<T = Record<string, unknown>>(name: string): Promise<T> {
  const out = await secretsClient().send(new GetSecretValueCommand({ SecretId: name }));
  return JSON.parse(out.SecretString ?? 'null') as T;
}

export interface SeededPortal {
  prefix: string;
  key: string;
  domain: string;
}

/** Seeds `<prefix>/typing-keys` with a fresh key and returns it. */
export async function seedTypingKeys(prefix: string, keys = [generateSigningKey()]): Promise<string[]> {
  await putSecret(`${prefix}/typing-keys`, { keys });
  return keys;
}
