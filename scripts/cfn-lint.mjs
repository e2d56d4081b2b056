// Packages the service offline and lints the CloudFormation template. cfn-lint's exit code is a bit mask:
// 2 = errors, 4 = warnings, 8 = informational. Only errors fail the check.
import { spawnSync } from 'node:child_process';
import { ensurePythonEnv, venvBin } from './python-env.mjs';

ensurePythonEnv();
const stage = process.env.STAGE ?? 'prod';
const pack = spawnSync('npx', ['osls', 'package', '--stage', stage], { stdio: 'inherit' });
if (pack.status !== 0) process.exit(pack.status ?? 1);
const lint = spawnSync(venvBin('cfn-lint'), ['.serverless/cloudformation-template-update-stack.json'], {
  stdio: 'inherit',
});
const code = lint.status ?? 2;
if (code & 2 || code & 1) {
  console.error(`cfn-lint found errors (exit ${code})`);
  process.exit(1);
}
console.log(`cfn-lint: no errors (exit ${code}${code ? ': warnings/info only' : ''})`);
