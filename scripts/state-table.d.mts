// Types for state-table.mjs, which stays plain JavaScript so `npm start` can run it before anything is compiled.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- serverless.yml as parsed, shape unchecked
export declare function readServerlessYml(serverlessYml?: string): any;
export declare function stateTableDefinition(serverlessYml?: string): {
  BillingMode: string;
  AttributeDefinitions: { AttributeName: string; AttributeType: string }[];
  KeySchema: { AttributeName: string; KeyType: string }[];
  TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
  PointInTimeRecoverySpecification?: { PointInTimeRecoveryEnabled: boolean };
};
export declare function ensureStateTable(options: {
  endpoint: string | undefined;
  tableName: string | undefined;
  region?: string | undefined;
}): Promise<{ tableName: string; endpoint: string }>;
