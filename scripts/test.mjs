// `npm test`: runs vitest. Extra arguments go to vitest: `npm test -- test/unit/signing`. The suites that need
// the AWS emulator provision the pinned Python tools themselves (test/setup/moto-server.ts), only when they run.
// The last line is a plain "tests: N passed, N failed" summary that any CI log reader understands.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

mkdirSync('.cache', { recursive: true });
const report = `.cache/vitest-report-${process.pid}.json`;
const args = [
  'node_modules/vitest/vitest.mjs',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (existsSync(report)) {
  const { numPassedTests = 0, numFailedTests = 0, numPendingTests = 0 } = JSON.parse(readFileSync(report, 'utf8'));
  rmSync(report, { force: true });
  console.log(
    `tests: ${numPassedTests} passed, ${numFailedTests} failed${numPendingTests ? `, ${numPendingTests} skipped` : ''}`,
  );
}
process.exit(result.status ?? 1);
