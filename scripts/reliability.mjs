// `npm run reliability`: runs the hostile-input, fault, refresh-race, leak and load suites, then rewrites the
// generated part of RELIABILITY.md from the rows they recorded (.cache/reliability/*.json). Hand-written text
// outside the generated markers is kept. A row is green only if its own test passed and it observed something;
// a row listed in test/reliability/expected-rows.json that no test wrote is red, and so is a row missing from
// that list. Any red row or failed suite stamps the header and makes the exit status non-zero.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { onLambdaNodeMajor } from './lambda-major.mjs';

// The rows record figures (times, counts): measured on the Lambda runtime's Node major, as the bench is.
onLambdaNodeMajor(import.meta.url, 'reliability', 'RELIABILITY_ANY_NODE');

const dir = join('.cache', 'reliability');
const expectedFile = join('test', 'reliability', 'expected-rows.json');
const onlyRender = process.argv.includes('--render-only');
const failedSuites = [];
if (!onlyRender) {
  rmSync(dir, { recursive: true, force: true });
  const suites = ['test/reliability', 'test/fuzz', 'test/e2e/schemathesis.e2e.test.ts'];
  const run = (args, env = {}) =>
    spawnSync(process.execPath, ['scripts/test.mjs', ...args], { stdio: 'inherit', env: { ...process.env, ...env } })
      .status;
  if (run(suites) !== 0) failedSuites.push(suites.join(' '));
  if (run([], { VITEST_LOAD: '1' }) !== 0) failedSuites.push('npm run load');
}

const recorded = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
  : [];
const expected = JSON.parse(readFileSync(expectedFile, 'utf8'));
const listed = new Set(expected.map((e) => e.id));
const verdict = (r) => {
  if (!listed.has(r.id)) return `not listed in ${expectedFile}`;
  if (r.passed !== true) return 'its test failed';
  if (!(r.observations > 0)) return 'it observed nothing';
  return undefined;
};
const rows = [
  ...recorded.map((r) => ({ ...r, why: verdict(r) })),
  ...expected
    .filter((e) => !recorded.some((r) => r.id === e.id))
    .map((e) => ({
      ...e,
      sent: '–',
      got: 'no row: its test did not run or stopped before recording',
      figures: {},
      why: 'missing',
    })),
];
const red = rows.filter((r) => r.why !== undefined);
const sections = ['Hostile input', 'Faults', 'Load', 'Leaks'];
const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');
const figures = (f) =>
  Object.entries(f)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join('; ');
const nodeVersions = [...new Set(recorded.map((r) => r.node))].join(', ');
const stamp =
  failedSuites.length > 0 || red.length > 0
    ? [
        `**This run FAILED**: ${[
          ...failedSuites.map((suite) => `\`${suite}\` exited non-zero`),
          ...(red.length > 0 ? [`${red.length} red rows (${red.map((r) => `${r.id}: ${r.why}`).join('; ')})`] : []),
        ].join('; ')}.`,
        '',
      ]
    : [];
const lines = [
  '<!-- generated:start (npm run reliability) -->',
  `Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${nodeVersions}. ` +
    `${rows.length} scenarios, ${rows.length - red.length} green, ${red.length} red.`,
  '',
  ...stamp,
];
for (const section of sections) {
  const inSection = rows.filter((r) => r.section === section).sort((a, b) => a.id.localeCompare(b.id));
  if (inSection.length === 0) continue;
  lines.push(`### ${section}`, '', '| | scenario | sent | got | figures | reproduce |', '|---|---|---|---|---|---|');
  for (const r of inSection) {
    lines.push(
      `| ${r.why === undefined ? '✅' : `❌ ${cell(r.why)}`} | ${cell(r.scenario)} | ${cell(r.sent)} | ${cell(r.got)} | ${cell(figures(r.observations === undefined ? r.figures : { ...r.figures, observations: r.observations }))} | \`${cell(r.command)}\` |`,
    );
  }
  lines.push('');
}
lines.push('<!-- generated:end -->');

const file = 'RELIABILITY.md';
const current = existsSync(file)
  ? readFileSync(file, 'utf8')
  : '# Reliability\n\n<!-- generated:start -->\n<!-- generated:end -->\n';
const start = current.indexOf('<!-- generated:start');
const end = current.indexOf('<!-- generated:end -->');
const next = current.slice(0, start) + lines.join('\n') + current.slice(end + '<!-- generated:end -->'.length);
writeFileSync(file, next);
console.log(
  `RELIABILITY.md: ${rows.length} rows, ${red.length} red${failedSuites.length ? `; failed: ${failedSuites.join(', ')}` : ''}`,
);
process.exit(failedSuites.length > 0 || red.length > 0 ? 1 : 0);
