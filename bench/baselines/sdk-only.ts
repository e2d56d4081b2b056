/**
 * Baseline (b): the minimal `/typing` handler, using nothing but the Secrets Manager and DynamoDB SDK clients
 * and `fetch`. Same secrets (signing keys, then the portal), same signature check, same DynamoDB requests
 * around the same portal call (state-requests.ts); no cache TTL, no retries, no deadline, no coalescing in
 * memory, no fail-over, no structured logs. Bundled with the service's esbuild options.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { sdkRunOnce } from './state-sdk.js';
import { typingHandler, webhookSendTyping } from './typing-handler.js';

const client = new SecretsManagerClient({});

export const handler = typingHandler(
  async (secretId) => (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
  webhookSendTyping,
  sdkRunOnce(),
);
