// Types for capacity.mjs (plain JavaScript so `npm run capacity` runs with no build step).
export declare function runScenario(
  portals: number,
  ttl?: number,
): {
  portals: number;
  requests: number;
  monthSecretCalls: number;
  cost: Record<string, number>;
  quotas: { quota: string; load: number; limit: number; used: number; caller: string }[];
};
