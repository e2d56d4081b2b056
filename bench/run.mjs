// `npm run bench`: the performance suite (bench/README section in BENCHMARKS.md). Plain Node, no test runner.
//
// Figures only mean something on the Node major the Lambda runtime uses (serverless.yml `runtime: nodejsNN.x`),
// so when this Node is another major the suite re-runs itself under that major, fetched from the npm registry
// by scripts/lambda-node.sh. Then it provisions moto (.venv), bundles the TypeScript harness and runs it.
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onLambdaNodeMajor } from '../scripts/lambda-major.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lambdaMajor = onLambdaNodeMajor(import.meta.url, 'bench', 'BENCH_ANY_NODE');

const { ensurePythonEnv } = await import(pathToFileURL(join(root, 'scripts', 'python-env.mjs')).href);
ensurePythonEnv();

const { build } = await import('esbuild');
// The harness and the bundles of this run live in a directory of its own, so two runs at once (several people
// on one machine) never rebuild or delete each other's files; it is removed when the run ends.
const runDir = join(root, '.cache', 'bench', 'runs', String(process.pid));
const outdir = join(runDir, 'harness');
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: { main: join(root, 'bench', 'main.ts'), worker: join(root, 'bench', 'worker.ts') },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: `node${lambdaMajor}`,
  packages: 'external',
  outdir,
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});
const { main } = await import(pathToFileURL(join(outdir, 'main.mjs')).href);
let code;
try {
  code = await main({ root, runDir, lambdaMajor, args: process.argv.slice(2) });
} finally {
  // CPU profiles point into this run's bundles, whose source maps a reader needs to make sense of them.
  if (process.argv.includes('--cpu-prof')) console.log(`[bench] kept ${runDir} for the profiles' source maps`);
  else rmSync(runDir, { recursive: true, force: true });
}
// Exit explicitly: a stray keep-alive socket must not hold the suite open after its report is written.
process.exit(code);
