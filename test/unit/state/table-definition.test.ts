import { describe, expect, it } from 'vitest';
import { readServerlessYml, stateTableDefinition } from '../../../scripts/state-table.mjs';

type Statement = {
  Action?: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string[]>>;
};

/** The DynamoDB statements of one function's role in serverless.yml. */
function dynamoStatements(role: string): Statement[] {
  const document = readServerlessYml();
  const policies = document.resources.Resources[role].Properties.Policies as Array<{
    PolicyDocument: { Statement: Statement[] };
  }>;
  return policies
    .flatMap((policy) => policy.PolicyDocument.Statement)
    .filter((statement) => [statement.Action ?? []].flat().some((action) => action.startsWith('dynamodb:')));
}

describe('the state table in serverless.yml', () => {
  it('is on-demand, keyed by id, with TTL on expiration and no point-in-time recovery', () => {
    expect(stateTableDefinition()).toEqual({
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
    });
  });

  it('reaches both functions as STATE_TABLE: the stack’s own table unless npm start passes a parameter', () => {
    const document = readServerlessYml();
    expect(document.provider.environment.STATE_TABLE).toBe(
      "${param:stateTable, self:custom.stateTables.${param:sharedState, 'table'}}",
    );
    expect(document.custom.stateTables).toEqual({ table: { Ref: 'StateTable' }, memory: '' });
  });

  it('lets each function only the item actions it uses, on this table and its own kinds of items', () => {
    const onTable = { 'Fn::GetAtt': 'StateTable.Arn' };
    expect(dynamoStatements('TypingFunctionRole')).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        Resource: onTable,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['idempotency#*', 'budget#*'] } },
      },
    ]);
    expect(dynamoStatements('BotEventsFunctionRole')).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        Resource: onTable,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['claim#*', 'budget#*'] } },
      },
    ]);
  });
});
