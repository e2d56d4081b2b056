/**
 * Observability's cost: the typing function's cold start with metrics on (as deployed), with metrics off, and
 * with tracing on, each against the SDK-only baseline in the same rounds. Tracing is in every bundle (its
 * adapter is evaluated only when turned on), so the Bundle stage's sizes hold for it; the row here also says
 * what Powertools Tracer with the X-Ray SDK would have added.
 */
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { build } from 'esbuild';
import { measureColdStarts, type ColdResult, type ColdVariant } from '../cold-start.js';
import { UNLIMITED, type BenchContext } from '../context.js';
import { typingEvent } from '../events.js';
import { check, markdownTable, sectionRows, type Row, type StageReport } from '../report.js';
import { fmt, median } from '../stats.js';
import { TARGET } from '../targets.js';

const SECTION = 'Observability';
const WARMUP_ROUNDS = 2;

export async function observability(bench: BenchContext): Promise<StageReport> {
  const portal = await bench.seedPortal({ ...UNLIMITED, domain: 'observed.bitrix24.test' }, bench.cachePath('tls'));
  const daemon = await xrayDaemon();
  bench.onClose(async () => daemon.close());
  const base = bench.lambdaEnv({
    dynamodbEndpoint: bench.moto.url,
    env: { NODE_EXTRA_CA_CERTS: portal.front!.caFile },
  });
  // As Lambda starts a traced function: the invocation's trace header and the X-Ray daemon's address (here a
  // loopback socket that counts what reaches it).
  const traced = {
    ...base,
    TRACING_ENABLED: 'true',
    _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.port}`,
  };
  const typing = bench.built('functions', 'typing');
  const variants: ColdVariant[] = [
    { name: 'sdk-only', label: '(b) AWS SDK clients + fetch', bundle: bench.built('baselines', 'sdk-only'), env: base },
    { name: 'metrics', label: '/typing, metrics on (as deployed)', bundle: typing, env: base },
    {
      name: 'no-metrics',
      label: '/typing, METRICS_ENABLED=false',
      bundle: typing,
      env: { ...base, METRICS_ENABLED: 'false' },
    },
    { name: 'tracing', label: '/typing, metrics and tracing on', bundle: typing, env: traced },
  ];
  let dialogs = 0;
  const results = await measureColdStarts({
    invokeFile: join(bench.root, 'bench', 'invoke.mjs'),
    variants,
    rounds: bench.options.rounds,
    warmupRounds: WARMUP_ROUNDS,
    // A dialog per run, so no run is coalesced into another's portal call.
    makeEvent: () => typingEvent(portal.target, `chat${(dialogs += 1)}`),
    onRound: (round) => {
      if (round >= 0 && (round + 1) % 5 === 0)
        bench.say(`  observability: ${round + 1}/${bench.options.rounds} rounds`);
    },
  });
  const tracerBytes = await tracerBundleBytes(bench.root);
  const rows = observabilityRows(results, daemon.received(), tracerBytes, bench);
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.variant.name}: ${f}`));
  const report = [details(results, tracerBytes)];
  if (failures.length) report.push(`Observability failures:\n\n\`\`\`\n${failures.slice(0, 5).join('\n')}\n\`\`\``);
  return { rows, details: report };
}

function observabilityRows(results: ColdResult[], segments: number, tracerBytes: number, bench: BenchContext): Row[] {
  const row = sectionRows(SECTION);
  const of = (name: string) => results.find((r) => r.variant.name === name)!;
  const sdk = of('sdk-only');
  const paired = (a: ColdResult, b: ColdResult, f: (x: number, y: number) => number) =>
    median(a.runs.flatMap((run, i) => (run.ok && b.runs[i]?.ok ? [f(run.wallMs, b.runs[i]!.wallMs)] : [])));
  const ratio = (r: ColdResult) => paired(r, sdk, (x, y) => x / y);
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.variant.name}: ${f}`));
  const rows: Row[] = [
    row(
      'every run answered 200 (metrics on, off, tracing on, baseline)',
      `${results.reduce((n, r) => n + r.wallMs.length, 0)} ok, ${failures.length} failed`,
      '0 failed',
      check(failures.length === 0),
    ),
  ];
  for (const name of ['metrics', 'tracing']) {
    const r = of(name);
    const value = ratio(r);
    rows.push(
      row(
        `cold start, ${r.variant.label} vs (b): median of per-round ratios (medians ${fmt.ms(median(r.wallMs))} / ${fmt.ms(median(sdk.wallMs))})`,
        fmt.ratio(value),
        `≤ ${fmt.ratio(TARGET.coldVsSdkOnly)}`,
        check(value <= TARGET.coldVsSdkOnly),
      ),
    );
  }
  const base = of('no-metrics');
  rows.push(
    row(
      `cold start, ${base.variant.label} vs (b): the service without observability, for comparison`,
      fmt.ratio(ratio(base)),
      '–',
      'info',
    ),
  );
  const metricsMs = paired(of('metrics'), of('no-metrics'), (x, y) => x - y);
  const tracingMs = paired(of('tracing'), of('metrics'), (x, y) => x - y);
  rows.push(
    row('what metrics add to a cold start (paired median, on − off)', fmt.ms(metricsMs), '–', 'info'),
    row(
      `what tracing adds to a cold start (paired median, tracing − metrics); peak RSS ${fmt.mib(median(of('tracing').rssMiB))} vs ${fmt.mib(median(of('metrics').rssMiB))}`,
      fmt.ms(tracingMs),
      '–',
      'info',
    ),
    row(
      'traced runs reached the (loopback) X-Ray daemon: segment documents received',
      String(segments),
      `≥ ${of('tracing').runs.length} (one per traced run)`,
      check(of('tracing').runs.length > 0 && segments >= of('tracing').runs.length),
    ),
  );
  for (const [name, built] of Object.entries(bench.bundles.functions)) {
    rows.push(
      row(
        `${name} bundle with tracing on: the same bundle (Powertools Tracer with the X-Ray SDK would add ${fmt.kb(tracerBytes)})`,
        fmt.kb(built.bytes),
        `≤ ${fmt.kb(TARGET.bundleBytes)}`,
        check(built.bytes <= TARGET.bundleBytes),
      ),
    );
  }
  return rows;
}

/** What Powertools Tracer and the X-Ray SDK would weigh bundled (one reason the service sends its own documents). */
async function tracerBundleBytes(root: string): Promise<number> {
  const result = await build({
    stdin: { contents: "export { Tracer } from '@aws-lambda-powertools/tracer';", resolveDir: root },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.contents.byteLength;
}

/** A UDP socket on loopback standing in for the X-Ray daemon: counts the segment documents sent to it. */
async function xrayDaemon(): Promise<{ port: number; received: () => number; close: () => void }> {
  const socket = createSocket('udp4');
  let received = 0;
  socket.on('message', () => (received += 1));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, received: () => received, close: () => socket.close() };
}

function details(results: ColdResult[], tracerBytes: number): string {
  const lines = results.map((r) => [
    r.variant.label,
    fmt.ms(median(r.wallMs)),
    fmt.mib(median(r.rssMiB)),
    String(r.wallMs.length),
  ]);
  return (
    '### Observability\n\nThe cold-start measurement of "Cold start" (a fresh `node` per run, one signed `/typing`, spawn → answer), with four variants in rotated order per round: the SDK-only baseline (b), the typing bundle as deployed (metrics on: two embedded-metric lines per request), the same bundle with `METRICS_ENABLED=false`, and with `TRACING_ENABLED=true` in the environment Lambda gives a traced invocation (`_X_AMZN_TRACE_ID` sampled, and `AWS_XRAY_DAEMON_ADDRESS` pointing at a loopback UDP socket that counts the segment documents). Tracing sends its own segment documents (lib/tracing/xray.ts); bundled, Powertools Tracer and the X-Ray SDK would have added ' +
    `${fmt.kb(tracerBytes)} minified to every function.\n\n` +
    markdownTable(['variant', 'median wall', 'median peak RSS', 'runs'], lines)
  );
}
