/**
 * Warm overhead: what the service adds to one portal call in a warm container, measured against the bare
 * `fetch` of the same call from the same process.
 */
import { clean } from '../bundles.js';
import type { WarmFigures } from '../chart.js';
import type { BenchContext } from '../context.js';
import { summarizeProfiles } from '../profile.js';
import { check, markdownTable, sectionRows, type StageReport } from '../report.js';
import { fmt, percentile } from '../stats.js';
import { TARGET } from '../targets.js';
import type { WarmRun } from '../worker.js';

export async function warmOverhead(bench: BenchContext): Promise<StageReport> {
  const { options } = bench;
  const profileDir = bench.cachePath('profiles', 'warm');
  if (options.cpuProf) clean(profileDir);
  const container = await bench.startContainer({
    // No coalescing: every request makes a real portal call, like the bare fetch it is compared with.
    env: { TYPING_COALESCE_MS: '0' },
    nodeArgs: options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  const warmup = Math.round(options.warmRequests / 5);
  const run = await container.run<WarmRun>({
    cmd: 'warm',
    target: bench.fastPortal.target,
    warmup,
    count: options.warmRequests,
  });
  const logLines = container.logLines();
  await container.stop();
  const details = options.cpuProf ? [await profileDetails(profileDir)] : [];
  const figures: WarmFigures = {
    handler50: percentile(run.handlerMs, 50),
    handler99: percentile(run.handlerMs, 99),
    fetch50: percentile(run.fetchMs, 50),
    fetch99: percentile(run.fetchMs, 99),
  };
  const { handler50: h50, handler99: h99, fetch50: f50, fetch99: f99 } = figures;
  const ok = run.statuses['200'] ?? 0;
  const row = sectionRows('Warm overhead');
  const rows = [
    row(
      `handler answers (${options.warmRequests} after ${warmup} warm-up; log lines to a stdout pipe: ${logLines})`,
      `${ok} × 200, ${options.warmRequests - ok} other; bare fetch failures ${run.bareFailures}`,
      'all 200',
      check(ok === options.warmRequests && run.bareFailures === 0),
    ),
    row(
      `p50 /typing vs bare fetch (${fmt.ms(h50)} / ${fmt.ms(f50)})`,
      fmt.ratio(h50 / f50),
      `≤ ${fmt.ratio(TARGET.warmP50)}`,
      check(h50 / f50 <= TARGET.warmP50),
    ),
    row(
      `p99 /typing vs bare fetch (${fmt.ms(h99)} / ${fmt.ms(f99)})`,
      fmt.ratio(h99 / f99),
      `≤ ${fmt.ratio(TARGET.warmP99)}`,
      check(h99 / f99 <= TARGET.warmP99),
    ),
  ];
  details.push(warmDetails(run, figures, options.warmRequests, warmup, logLines));
  return { rows, details, chart: { warm: figures } };
}

function warmDetails(run: WarmRun, figures: WarmFigures, requests: number, warmup: number, logLines: number): string {
  return (
    `### Warm overhead\n\n${requests} signed \`/typing\` requests through the bundled handler in one warm container (a child process, \`TYPING_COALESCE_MS=0\` so each one makes a real portal call), alternating ABBA with the bare \`fetch\` of the same portal call (\`POST <webhook>imbot.chat.sendTyping.json\`, same JSON body), after ${warmup} warm-up pairs. The handler's ${logLines} log lines went to its stdout, a pipe the parent drains and counts, as Lambda's runtime captures stdout.\n\n` +
    markdownTable(
      ['', 'p50', 'p90', 'p99', 'max'],
      [
        [
          '/typing handler',
          fmt.ms(figures.handler50),
          fmt.ms(percentile(run.handlerMs, 90)),
          fmt.ms(figures.handler99),
          fmt.ms(Math.max(...run.handlerMs)),
        ],
        [
          'bare fetch',
          fmt.ms(figures.fetch50),
          fmt.ms(percentile(run.fetchMs, 90)),
          fmt.ms(figures.fetch99),
          fmt.ms(Math.max(...run.fetchMs)),
        ],
      ],
    )
  );
}

/** `--cpu-prof`: where the warm container spent its own time over the whole run, printed and kept in the report. */
async function profileDetails(profileDir: string): Promise<string> {
  // The child writes its profile as it exits; give the file a moment to land.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const top = summarizeProfiles(profileDir).slice(0, 14);
  const table = markdownTable(
    ['warm container: self time over the whole run (ms)', ''],
    top.map((t) => [t.what, t.ms.toFixed(1)]),
  );
  process.stdout.write(`\n${table}\n\n`);
  return `### Warm CPU profile (\`--cpu-prof\`: times perturbed)\n\n${table}`;
}
