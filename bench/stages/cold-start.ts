/**
 * Cold start: a fresh `node` per run imports a bundle and serves one signed `/typing`, ours against hand-written
 * baselines doing the same work. Every round runs each variant once, so the ratios are paired per round.
 */
import { join } from 'node:path';
import { clean, sizeByPackage } from '../bundles.js';
import { measureColdStarts, type ColdResult, type ColdVariant } from '../cold-start.js';
import { UNLIMITED, type BenchContext } from '../context.js';
import { typingEvent } from '../events.js';
import { summarizeProfiles } from '../profile.js';
import { check, markdownTable, sectionRows, type Row, type StageReport } from '../report.js';
import { fmt, median, percentile } from '../stats.js';
import { TARGET } from '../targets.js';

/** Rounds run before the measured ones and discarded (page cache, moto's first requests). */
const WARMUP_ROUNDS = 2;

export async function coldStart(bench: BenchContext): Promise<StageReport> {
  const { options } = bench;
  const cold = await bench.seedPortal({ ...UNLIMITED, domain: 'cold.bitrix24.test' }, bench.cachePath('tls'));
  // One request per process: no two writes to one item at once, so moto is reached directly (no serialising
  // proxy, which would queue the two parallel requests one behind the other).
  const env = bench.lambdaEnv({ dynamodbEndpoint: bench.moto.url, env: { NODE_EXTRA_CA_CERTS: cold.front!.caFile } });
  if (options.noSourceMaps) delete env.NODE_OPTIONS;
  const variants: ColdVariant[] = [
    { name: 'bare', label: 'bare node -e 0', env },
    { name: 'ours', label: 'bitrix24-typing /typing', bundle: bench.built('functions', 'typing'), env },
    { name: 'sdk-only', label: '(b) AWS SDK clients + fetch', bundle: bench.built('baselines', 'sdk-only'), env },
    {
      name: 'sdk-powertools',
      label: '(b+P) (b) + Powertools Idempotency',
      bundle: bench.built('baselines', 'sdk-powertools'),
      env,
    },
    { name: 'b24jssdk', label: '(c) @bitrix24/b24jssdk + SDK', bundle: bench.built('baselines', 'b24jssdk'), env },
    { name: 'no-sdk', label: '(d) reference: SigV4 + node:https', bundle: bench.built('baselines', 'no-sdk'), env },
    ...bench.bundles.variants.map((v) => ({ ...v, env })),
  ];
  const profileDir = bench.cachePath('profiles');
  if (options.cpuProf) clean(profileDir);
  const callsBefore = cold.portal.typingCalls().length;
  let dialogs = 0;
  const results = await measureColdStarts({
    invokeFile: join(bench.root, 'bench', 'invoke.mjs'),
    variants,
    rounds: options.rounds,
    warmupRounds: WARMUP_ROUNDS,
    // A dialog per run: the typing windows are shared now, and a repeat inside one would make no portal call.
    makeEvent: () => typingEvent(cold.target, `chat${(dialogs += 1)}`),
    ...(options.cpuProf ? { profileDir } : {}),
    onRound: (round) => {
      if (round >= 0 && (round + 1) % 5 === 0) bench.say(`  cold start: ${round + 1}/${options.rounds} rounds`);
    },
  });
  // Every variant but bare node makes one portal call per run, warm-up rounds included.
  const portalCalls = {
    served: cold.portal.typingCalls().length - callsBefore,
    expected: (WARMUP_ROUNDS + options.rounds) * (variants.length - 1),
  };
  const failures = results.flatMap((r) => r.failures.map((f) => `${r.variant.name}: ${f}`));
  const details = [coldDetails(results, options.rounds)];
  if (options.cpuProf) details.push(profileDetails(results, profileDir));
  if (failures.length) details.push(`Cold-start failures:\n\n\`\`\`\n${failures.slice(0, 5).join('\n')}\n\`\`\``);
  const rows = [...coldRows(results, failures, portalCalls), powertoolsCost(bench, results)];
  return { rows, details, chart: { cold: results } };
}

function coldRows(results: ColdResult[], failures: string[], portalCalls: { served: number; expected: number }): Row[] {
  const row = sectionRows('Cold start');
  const by = (name: string): ColdResult => {
    const result = results.find((r) => r.variant.name === name);
    if (!result) throw new Error(`no cold-start result for ${name}`);
    return result;
  };
  const ours = by('ours');
  const sdk = by('sdk-only');
  const b24 = by('b24jssdk');
  const bare = by('bare');
  const ref = by('no-sdk');
  const m = (r: ColdResult) => median(r.wallMs);
  // Paired: each round ran every variant back to back, so the ratio within a round cancels slow drift on a
  // shared machine; the median of those per-round ratios is what the targets are checked against.
  const paired = (a: ColdResult, b: ColdResult) =>
    median(a.runs.flatMap((run, i) => (run.ok && b.runs[i]?.ok ? [run.wallMs / b.runs[i]!.wallMs] : [])));
  const vsSdk = paired(ours, sdk);
  const vsB24 = paired(ours, b24);
  const runs = results.reduce((n, r) => n + r.wallMs.length, 0);
  const calls = `${portalCalls.served}/${portalCalls.expected} portal calls`;
  const maxRss = Math.max(...ours.rssMiB);
  const medians = (other: ColdResult) => `(medians ${fmt.ms(m(ours))} / ${fmt.ms(m(other))})`;
  return [
    row(
      'every cold run answered 200 and reached the portal',
      `${runs} ok, ${failures.length} failed; ${calls}`,
      '0 failed',
      check(failures.length === 0 && portalCalls.served === portalCalls.expected),
    ),
    row(
      `wall, ours vs (b) SDK-only: median of per-round ratios ${medians(sdk)}`,
      fmt.ratio(vsSdk),
      `≤ ${fmt.ratio(TARGET.coldVsSdkOnly)}`,
      check(vsSdk <= TARGET.coldVsSdkOnly),
    ),
    // Not a target any more: with the DynamoDB client both sides carry, (b) itself is close to (c).
    row(
      `wall, ours vs (c) b24jssdk: median of per-round ratios ${medians(b24)}; (b) vs (c): ${fmt.ratio(paired(sdk, b24))}`,
      fmt.ratio(vsB24),
      '–',
      'info',
    ),
    row(`median wall, ours vs bare node -e 0 (${fmt.ms(m(bare))})`, fmt.ratio(m(ours) / m(bare)), '–', 'info'),
    row(
      `median wall, ours vs (d) reference without SDK or fetch (${fmt.ms(m(ref))}; RSS ${fmt.mib(median(ref.rssMiB))})`,
      fmt.ratio(m(ours) / m(ref)),
      '–',
      'info',
    ),
    row(
      'peak RSS, ours (median; max)',
      `${fmt.mib(median(ours.rssMiB))}; ${fmt.mib(maxRss)}`,
      `≤ ${fmt.mib(TARGET.peakRssMiB)}`,
      check(maxRss <= TARGET.peakRssMiB),
    ),
  ];
}

/**
 * What Powertools Idempotency costs a cold start: (b+P) makes the same requests as (b) with Powertools keeping
 * the record, so their per-round difference is its load and run time; its bytes come from the bundles.
 */
function powertoolsCost(bench: BenchContext, results: ColdResult[]): Row {
  const of = (name: string) => results.find((r) => r.variant.name === name)!;
  const [withIt, without] = [of('sdk-powertools'), of('sdk-only')];
  const msMore = median(
    withIt.runs.flatMap((run, i) => (run.ok && without.runs[i]?.ok ? [run.wallMs - without.runs[i]!.wallMs] : [])),
  );
  const rssMore = median(withIt.rssMiB) - median(without.rssMiB);
  const baselines = bench.bundles.baselines;
  const bundleMore = baselines['sdk-powertools']!.bytes - baselines['sdk-only']!.bytes;
  const inOurs = sizeByPackage(bench.bundles.functions.typing!.metafile)
    .filter((p) => p.what.startsWith('@aws-lambda-powertools/'))
    .reduce((sum, p) => sum + p.bytes, 0);
  return sectionRows('Cold start')(
    'Powertools Idempotency, (b+P) vs (b): cold start (median of per-round differences), peak RSS, bundle; @aws-lambda-powertools/* in our typing bundle',
    `${signed(msMore, fmt.ms)}, ${signed(rssMore, fmt.mib)}, ${signed(bundleMore, fmt.kb)}; ${fmt.kb(inOurs)}`,
    '–',
    'info',
  );
}

const signed = (value: number, format: (value: number) => string) =>
  value < 0 ? `−${format(-value)}` : `+${format(value)}`;

function coldDetails(results: ColdResult[], rounds: number): string {
  const lines = results.map((r) => [
    r.variant.label,
    fmt.ms(median(r.wallMs)),
    `${fmt.ms(percentile(r.wallMs, 25))} – ${fmt.ms(percentile(r.wallMs, 75))}`,
    fmt.mib(median(r.rssMiB)),
    String(r.wallMs.length),
  ]);
  return (
    `### Cold start\n\nEach run is a fresh \`node\` (the Lambda major) with the typing function's serverless.yml environment pointed at moto (Secrets Manager, and the state table reached directly: one request per process, no concurrent writes to serialise) (source maps ship beside the bundle but are not enabled at run time: with \`--enable-source-maps\` the same run measured 75.4 MiB peak RSS instead of 67.1 MiB): it imports the bundle, serves one signed \`/typing\` event (both secrets fetched from moto, the state table's requests, one portal call to the loopback portal) and prints the answer, then \`process.resourceUsage().maxRSS\`. Wall time is spawn → answer line. ${rounds} rounds after ${WARMUP_ROUNDS} discarded, each round running every variant once in rotated order; the targets are checked on the median of per-round ratios (paired, so drift between rounds cancels). Every run types in a dialog of its own (the typing windows are shared across containers, so a repeat would be coalesced and make no call). The baselines do the same work: fetch the keys secret, check the HMAC, fetch the portal secret, then the same DynamoDB requests on the same table around the same portal call (the idempotency record's conditional PutItem beside the budget item's conditional UpdateItem, the call, the answer's UpdateItem; bench/baselines/state-requests.ts), with no cache TTL, retries, deadline, fail-over or logs. The baselines call the portal with \`fetch\`, as a plainly written handler would; the service calls it over node:https (lib/bitrix24/http-transport.ts), which the SDK has already loaded, since fetch's first call in a fresh process loads undici and compiles its WASM HTTP parser (with fetch, the service measured 1.12× and 1.13× (b) in the two complete runs before the change). (b+P) is (b) with Powertools Idempotency keeping the record, so (b+P) − (b) is what Powertools costs.\n\n` +
    markdownTable(['variant', 'median wall', 'p25 – p75', 'median peak RSS', 'runs'], lines)
  );
}

/** `--cpu-prof`: where each bundle's cold start spends its own time, printed and kept in the report. */
function profileDetails(results: ColdResult[], profileDir: string): string {
  const lines = results
    .filter((r) => r.variant.bundle)
    .map((r) => {
      const top = summarizeProfiles(join(profileDir, r.variant.name)).slice(0, 10);
      return [r.variant.label, top.map((t) => `${t.what} ${t.ms.toFixed(1)}`).join(', ')];
    });
  const table = markdownTable(['variant', 'self time per run (ms), largest first'], lines);
  process.stdout.write(`\n${table}\n\n`);
  return `### Cold-start CPU profiles (\`--cpu-prof\`: times perturbed)\n\n${table}`;
}
