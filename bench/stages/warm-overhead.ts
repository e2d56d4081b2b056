/**
 * Warm overhead: what the service adds in a warm container, measured against baseline (b) making the same
 * network calls (the portal call and the same DynamoDB requests) from the same process; the bare `fetch` of
 * the portal call alone is shown beside it.
 */
import { pathToFileURL } from 'node:url';
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
    // No coalescing: every request makes a real portal call, like the baselines it is compared with. One
    // request at a time, so no two writes to one item at once: moto is reached directly.
    dynamodbEndpoint: bench.moto.url,
    env: {
      TYPING_COALESCE_MS: '0',
      BENCH_BASELINE_BUNDLE: pathToFileURL(bench.built('baselines', 'sdk-only')).href,
    },
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
    baseline50: percentile(run.baselineMs, 50),
    baseline99: percentile(run.baselineMs, 99),
    fetch50: percentile(run.fetchMs, 50),
    fetch99: percentile(run.fetchMs, 99),
  };
  const { handler50: h50, handler99: h99, baseline50: b50, baseline99: b99, fetch50: f50, fetch99: f99 } = figures;
  const ok = run.statuses['200'] ?? 0;
  const baselineOk = run.baselineStatuses['200'] ?? 0;
  const row = sectionRows('Warm overhead');
  const rows = [
    row(
      `answers (${options.warmRequests} each after ${warmup} warm-up; the handler's log lines to a stdout pipe: ${logLines})`,
      `handler ${ok} × 200, baseline (b) ${baselineOk} × 200; bare fetch failures ${run.bareFailures}`,
      'all 200',
      check(ok === options.warmRequests && baselineOk === options.warmRequests && run.bareFailures === 0),
    ),
    row(
      `p50 /typing vs (b) with the same portal call and DynamoDB requests (${fmt.ms(h50)} / ${fmt.ms(b50)})`,
      fmt.ratio(h50 / b50),
      `≤ ${fmt.ratio(TARGET.warmP50)}`,
      check(h50 / b50 <= TARGET.warmP50),
    ),
    row(
      `p99 /typing vs (b) (${fmt.ms(h99)} / ${fmt.ms(b99)})`,
      fmt.ratio(h99 / b99),
      `≤ ${fmt.ratio(TARGET.warmP99)}`,
      check(h99 / b99 <= TARGET.warmP99),
    ),
    row(
      `p50 / p99 /typing vs the bare portal fetch alone (${fmt.ms(f50)} / ${fmt.ms(f99)})`,
      `${fmt.ratio(h50 / f50)} / ${fmt.ratio(h99 / f99)}`,
      '–',
      'info',
    ),
  ];
  details.push(warmDetails(run, figures, options.warmRequests, warmup, logLines));
  return { rows, details, chart: { warm: figures } };
}

function warmDetails(run: WarmRun, figures: WarmFigures, requests: number, warmup: number, logLines: number): string {
  return (
    `### Warm overhead\n\n${requests} signed \`/typing\` requests through the bundled handler in one warm container (a child process, \`TYPING_COALESCE_MS=0\` so each one makes a real portal call), interleaved (every order of the three in turn) with ${requests} through baseline (b)'s bundled handler imported in the same process (same signature check, the same DynamoDB requests on the same table, the same portal call; its secrets cached) and ${requests} bare \`fetch\`es of the portal call alone (\`POST <webhook>imbot.chat.sendTyping.json\`, same JSON body), after ${warmup} warm-up rounds. DynamoDB is moto, reached directly (one request at a time from this container). The handler's ${logLines} log lines went to its stdout, a pipe the parent drains and counts, as Lambda's runtime captures stdout.\n\n` +
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
          '(b) same calls, SDK clients',
          fmt.ms(figures.baseline50),
          fmt.ms(percentile(run.baselineMs, 90)),
          fmt.ms(figures.baseline99),
          fmt.ms(Math.max(...run.baselineMs)),
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
