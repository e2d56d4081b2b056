// Figures only mean something on the Node major the Lambda runtime uses (serverless.yml `runtime: nodejsNN.x`).
// A suite that reports figures calls this first: on another major it re-runs the same script under that major,
// fetched from the npm registry by scripts/lambda-node.sh, and exits with its status.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Returns the Lambda's Node major when this is it (or `skipEnv` is set); otherwise re-runs `scriptUrl` and exits. */
export function onLambdaNodeMajor(scriptUrl, label, skipEnv) {
  const yml = readFileSync(join(root, 'serverless.yml'), 'utf8');
  const lambdaMajor = /^\s*runtime:\s*nodejs(\d+)\.x/m.exec(yml)?.[1];
  if (!lambdaMajor) throw new Error('serverless.yml: no provider.runtime nodejsNN.x found');
  if (process.versions.node.split('.')[0] === lambdaMajor || process.env[skipEnv]) return lambdaMajor;
  const bin = execFileSync(join(root, 'scripts', 'lambda-node.sh'), {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const node = join(bin, 'node');
  console.log(
    `[${label}] this is Node ${process.version}; the Lambda runtime is nodejs${lambdaMajor}.x, so re-running under ${node}`,
  );
  const result = spawnSync(node, [fileURLToPath(scriptUrl), ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
  process.exit(result.status ?? 1);
}
