import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // `npm run load` runs the load suite alone (it needs both cores to itself); `npm test` runs everything else.
    include: process.env.VITEST_LOAD ? ['test/load/**/*.load.ts'] : ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    setupFiles: ['test/setup/aws-env.ts'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 120_000,
    // Two cores: the e2e files each start serverless-offline, so keep the fan-out small.
    maxWorkers: 2,
  },
});
