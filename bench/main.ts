/**
 * The benchmark suite behind `npm run bench` (started by bench/run.mjs on the Lambda runtime's Node major).
 * Everything runs on loopback: moto for Secrets Manager and the shared-state table (DynamoDB), the loopback
 * Bitrix24 portal from sandbox/. Every comparison is a ratio inside one run, because absolute times drift
 * between machines and runs.
 *
 * Each stage in bench/stages/ takes the shared context and hands back its rows; this file runs them in order
 * and writes the report.
 */
import { writeBenchmarks } from './benchmarks-md.js';
import { openBench, type BenchContext } from './context.js';
import { parseOptions, stageSelected } from './options.js';
import { machine, type StageReport } from './report.js';
import { bundleBaselines, bundleFunctions } from './stages/bundles.js';
import { coldStart } from './stages/cold-start.js';
import { observability } from './stages/observability.js';
import { portalBudget } from './stages/portal-budget.js';
import { secretsManagerCalls } from './stages/secrets-manager.js';
import { stateRoundTrips } from './stages/state-round-trips.js';
import { warmOverhead } from './stages/warm-overhead.js';

type Stage = (bench: BenchContext) => Promise<StageReport>;

const STAGES: Array<[name: string, stage: Stage]> = [
  ['Bundle', bundleFunctions],
  ['Baseline bundles', bundleBaselines],
  ['Cold start', coldStart],
  ['Observability', observability],
  ['Warm overhead', warmOverhead],
  ['DynamoDB round trips', stateRoundTrips],
  ['Secrets Manager', secretsManagerCalls],
  ['Portal budget', portalBudget],
];

/**
 * Run right after the bundles, in this order, and reported in the order above: their figures depend on moto
 * keeping up with hundreds of concurrent state writes (about 10 ms each even on a quiet machine), and on a
 * shared machine a quiet spell rarely lasts a whole run, so they go while the one the run started in lasts.
 */
const RUN_FIRST = ['Portal budget', 'Secrets Manager'];

// Every request now writes to the state table on moto (about 10 ms a request even on a quiet machine), so a
// run takes about 10 minutes, and much longer on a busy one.
const HARD_LIMIT_MS = 30 * 60_000;

const say = (line: string) => process.stdout.write(`[bench] ${line}\n`);

export async function main(input: {
  root: string;
  /** This run's own directory for the harness and the bundles. */
  runDir: string;
  lambdaMajor: string;
  args: string[];
}): Promise<number> {
  const { root } = input;
  process.chdir(root);
  const options = parseOptions(input.args);
  const host = machine();
  setTimeout(() => {
    process.stderr.write('[bench] giving up after 30 minutes\n');
    process.exit(3);
  }, HARD_LIMIT_MS).unref();
  say(
    `Node ${process.version} (Lambda runtime nodejs${input.lambdaMajor}.x) on ${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB`,
  );

  const bench = await openBench(root, input.runDir, options, say);
  const reports = new Map<string, StageReport>();
  const rank = (name: string) => (name.includes('undle') ? -2 : RUN_FIRST.includes(name) ? RUN_FIRST.indexOf(name) : 9);
  const runOrder = [...STAGES].sort((a, b) => rank(a[0]) - rank(b[0]));
  try {
    for (const [name, stage] of runOrder) {
      if (stageSelected(options, name)) reports.set(name, await runStage(bench, name, stage));
    }
  } finally {
    await bench.close();
  }
  const inOrder = STAGES.flatMap(([name]) => reports.get(name) ?? []);
  return writeBenchmarks(root, inOrder, host, options);
}

/** A stage that throws becomes a FAIL row with its stack in the details; the others still run. */
async function runStage(bench: BenchContext, name: string, stage: Stage): Promise<StageReport> {
  say(`${name}…`);
  try {
    return await stage(bench);
  } catch (error) {
    const message = String((error as Error).message ?? error).slice(0, 200);
    return {
      rows: [
        { section: name, measure: `${name} did not complete`, value: message, target: 'completes', status: 'FAIL' },
      ],
      details: [`### ${name}: error\n\n\`\`\`\n${String((error as Error).stack ?? error)}\n\`\`\``],
    };
  }
}
