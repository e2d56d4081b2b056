// `npm test`: provisions what the tests need (the pinned Python tools in .venv), then runs vitest.
// Extra arguments go to vitest: `npm test -- test/unit/signing`.
import { spawnSync } from 'node:child_process';
import { ensurePythonEnv } from './python-env.mjs';

ensurePythonEnv();
const result = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
