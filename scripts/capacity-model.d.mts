// Types for capacity-model.mjs, which stays plain JavaScript so `npm run capacity` runs with no build step.
export declare const PER_REQUEST: {
  typing: { dynamoWrites: number; dynamoWritesAlways: number; dynamoReads: number };
  event: { dynamoWrites: number; dynamoReads: number };
  firstPerContainerPortalWrites: number;
  containerSecrets: number;
};
export declare function predictTypingCalls(options: {
  portals: number;
  dialogsPerPortal: number;
  requests: number;
  containers?: number;
}): {
  dynamo: number;
  getSecretValue: number;
};
