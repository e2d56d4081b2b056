// Creates the shared-state table on an emulator (moto) from the definition serverless.yml deploys, so local runs
// and tests use the table the service gets in AWS. Deployed functions never create tables; CloudFormation does.
//
//   node scripts/state-table.mjs     # ensures STATE_TABLE at AWS_ENDPOINT_URL_DYNAMODB (region AWS_REGION)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import yaml from 'js-yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESOURCE = 'StateTable';

// serverless.yml uses CloudFormation's short tags (!Ref, !Sub, !If ...); read each as its long form.
const INTRINSICS = ['Ref', 'Condition', 'Sub', 'GetAtt', 'If', 'Equals', 'Not', 'And', 'Or', 'Join', 'Select'];
const cloudFormationSchema = yaml.DEFAULT_SCHEMA.extend(
  INTRINSICS.flatMap((name) => {
    const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`;
    return ['scalar', 'sequence', 'mapping'].map(
      (kind) => new yaml.Type(`!${name}`, { kind, construct: (data) => ({ [key]: data }) }),
    );
  }),
);

/** serverless.yml as data, its CloudFormation tags in their long form (`{ Ref: ... }`, `{ 'Fn::Sub': ... }`). */
export function readServerlessYml(serverlessYml = join(root, 'serverless.yml')) {
  return yaml.load(readFileSync(serverlessYml, 'utf8'), { schema: cloudFormationSchema });
}

/** The table's CloudFormation Properties, as serverless.yml declares them. */
export function stateTableDefinition(serverlessYml = join(root, 'serverless.yml')) {
  const resource = readServerlessYml(serverlessYml)?.resources?.Resources?.[RESOURCE];
  if (resource?.Type !== 'AWS::DynamoDB::Table') throw new Error(`${serverlessYml} declares no ${RESOURCE} table`);
  return resource.Properties;
}

/**
 * Creates `tableName` at `endpoint` unless it exists, with the key schema, billing mode and TTL serverless.yml
 * deploys. Safe to call from several processes at once.
 */
export async function ensureStateTable({ endpoint, tableName, region = 'eu-central-1' }) {
  if (!endpoint) throw new Error('ensureStateTable needs an emulator endpoint');
  if (!tableName) throw new Error('ensureStateTable needs a table name');
  const definition = stateTableDefinition();
  const client = new DynamoDBClient({
    endpoint,
    region,
    // An emulator takes any credentials; without them in the environment the SDK would search the machine.
    ...(process.env.AWS_ACCESS_KEY_ID ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: definition.BillingMode,
        AttributeDefinitions: definition.AttributeDefinitions,
        KeySchema: definition.KeySchema,
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1 }, { TableName: tableName });
  const ttl = definition.TimeToLiveSpecification;
  if (ttl?.Enabled)
    await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: ttl }));
  client.destroy();
  return { tableName, endpoint };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { tableName } = await ensureStateTable({
    endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
    tableName: process.env.STATE_TABLE,
    region: process.env.AWS_REGION,
  });
  console.log(`state table ${tableName} is ready`);
}
