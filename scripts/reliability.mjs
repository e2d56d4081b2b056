// `npm run reliability`: runs the hostile-input, fault, refresh-race, leak and load suites, then rewrites the
// generated part of RELIABILITY.md from the rows they recorded (.cache/reliability/*.json). Hand-written text
// outside the generated markers is kept.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const dir = join('.cache', 'reliability');
const onlyRender = process.argv.includes('--render-only');
let failed = false;
if (!onlyRender) {
  rmSync(dir, { recursive: true, force: true });
  const suites = ['test/reliability', 'test/fuzz', 'test/e2e/schemathesis.e2e.test.ts'];
  const run = (args, env = {}) =>
    spawnSync(process.execPath, ['scripts/test.mjs', ...args], { stdio: 'inherit', env: { ...process.env, ...env } })
      .status;
  if (run(suites) !== 0) failed = true;
  if (run([], { VITEST_LOAD: '1' }) !== 0) failed = true;
}

const rows = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
  : [];
const sections = ['Hostile input', 'Faults', 'Load', 'Leaks'];
const cell = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');
const figures = (f) =>
  Object.entries(f)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join('; ');
const nodeVersions = [...new Set(rows.map((r) => r.node))].join(', ');
const lines = [
  '<!-- generated:start (npm run reliability) -->',
  `Generated ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${nodeVersions}. ` +
    `${rows.length} scenarios, ${rows.filter((r) => r.ok).length} green, ${rows.filter((r) => !r.ok).length} red.`,
  '',
];
for (const section of sections) {
  const inSection = rows.filter((r) => r.section === section).sort((a, b) => a.id.localeCompare(b.id));
  if (inSection.length === 0) continue;
  lines.push(`### ${section}`, '', '| | scenario | sent | got | figures | reproduce |', '|---|---|---|---|---|---|');
  for (const r of inSection) {
    lines.push(
      `| ${r.ok ? '✅' : '❌'} | ${cell(r.scenario)} | ${cell(r.sent)} | ${cell(r.got)} | ${cell(figures(r.figures))} | \`${cell(r.command)}\` |`,
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
console.log(`RELIABILITY.md: ${rows.length} rows, ${rows.filter((r) => !r.ok).length} red`);
process.exit(failed || rows.some((r) => !r.ok) ? 1 : 0);
