import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../scripts/capacity.mjs';

// CAPACITY.md quotes these figures; a change to the model that moves them must move the page too.
describe('capacity model figures quoted in CAPACITY.md', () => {
  it('prices 10,000 portals at $9,728 a month, with the stage throttle the only quota past its limit', () => {
    // Act
    const result = runScenario(10_000);
    // Assess
    const total = Object.values(result.cost).reduce((a, b) => a + b, 0);
    expect(Math.round(total)).toBe(9_728);
    expect(Math.round(result.cost.secretsStored ?? 0)).toBe(4_001);
    expect(result.quotas.filter((q) => q.used >= 1).map((q) => q.quota)).toEqual([
      'API stage throttle (API_THROTTLE_RATE)',
    ]);
  });
});
