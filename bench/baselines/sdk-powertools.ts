/**
 * Baseline (b+P): baseline (b) with its idempotency record kept by Powertools Idempotency (DynamoDB
 * persistence layer on the same table) instead of two hand-written requests. The requests on the wire are the
 * same (a conditional PutItem of the record beside the slot's UpdateItem, the call, an UpdateItem with the
 * answer), so the difference from (b) is what Powertools itself costs: its code to load and its work per
 * request. Bundled with the service's esbuild options.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { stateRequests, type Answer, type StateRequest } from './state-requests.js';
import { typingHandler, webhookSendTyping } from './typing-handler.js';

const secrets = new SecretsManagerClient({});
const dynamodb = new DynamoDBClient({});
const persistenceStore = new DynamoDBPersistenceLayer({
  tableName: process.env.STATE_TABLE ?? '',
  keyAttr: 'id',
  expiryAttr: 'expiration',
  awsSdkV3Client: dynamodb,
});
const config = new IdempotencyConfig({
  eventKeyJmesPath: 'webhookId',
  payloadValidationJmesPath: 'body',
  expiresAfterSeconds: 600,
  hashFunction: 'sha256',
});

async function runOnce(request: StateRequest, work: () => Promise<Answer>): Promise<Answer> {
  const slot = dynamodb.send(new UpdateItemCommand(stateRequests(request).slot));
  const once = makeIdempotent(
    async (_request: StateRequest) => {
      await slot;
      return work();
    },
    { persistenceStore, config, keyPrefix: 'idempotency' },
  );
  const [answer] = await Promise.all([once(request), slot]);
  return answer;
}

export const handler = typingHandler(
  async (secretId) => (await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString,
  webhookSendTyping,
  runOnce,
);
