import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// Suites that need no AWS emulator. Their project starts no moto server, so `npm test -- test/unit` runs on a
// machine without Python; a suite that starts using Secrets Manager or EventBridge moves out of this list.
const WITHOUT_EMULATOR = [
  'test/unit/**/*.test.ts',
  'test/sandbox/**/*.test.ts',
  'test/fuzz/signature.fuzz.test.ts',
  'test/integration/bitrix24/rest-client.test.ts',
  'test/cli/bundle.test.ts',
  'test/cli/events.test.ts',
  'test/cli/program.test.ts',
  'test/functions/observability.test.ts',
  'test/e2e/npm-start.e2e.test.ts',
  'test/cli/portal-replace.test.ts',
  'test/cli/bot-admin.test.ts',
  'test/cli/events-fixtures.test.ts',
];

/** A project whose suites talk to one moto server (Secrets Manager, EventBridge), started only if they run. */
const withMoto = (include: string[], exclude: string[] = []): TestProjectInlineConfiguration => ({
  extends: true,
  test: {
    name: 'moto',
    include,
    exclude: [...configDefaults.exclude, ...exclude],
    globalSetup: ['test/setup/moto-server.ts'],
    setupFiles: ['test/setup/aws-moto.ts'],
  },
});

export default defineConfig({
  test: {
    // `npm run load` runs the load suite alone (it needs both cores to itself); `npm test` runs everything else.
    projects: process.env.VITEST_LOAD
      ? [withMoto(['test/load/**/*.load.ts'])]
      : [
          {
            extends: true,
            test: { name: 'unit', include: WITHOUT_EMULATOR, setupFiles: ['test/setup/aws-unreachable.ts'] },
          },
          withMoto(['test/**/*.test.ts'], WITHOUT_EMULATOR),
        ],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 120_000,
    // Two cores: the e2e files each start serverless-offline, so keep the fan-out small.
    maxWorkers: 2,
  },
});
