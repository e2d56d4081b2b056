import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ensureStateTable } from '../../../scripts/state-table.mjs';

describe('the state table on the emulator, from serverless.yml (moto)', () => {
  it('is created with the key, billing and TTL that serverless.yml deploys, and ensuring it again is harmless', async () => {
    // Prepare
    const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    const tableName = `state-${randomUUID()}`;
    // Act: several starts at once, as parallel test files or two `npm start`s would
    await Promise.all([0, 1, 2].map(() => ensureStateTable({ endpoint, tableName, region: process.env.AWS_REGION })));
    // Assess
    const client = new DynamoDBClient({ endpoint });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    expect(Table?.AttributeDefinitions).toEqual([{ AttributeName: 'id', AttributeType: 'S' }]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(TimeToLiveDescription).toMatchObject({ AttributeName: 'expiration', TimeToLiveStatus: 'ENABLED' });
  });
});
