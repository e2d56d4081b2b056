/**
 * Secrets Manager calls: how often a container reads each secret, counted on the wire by a pass-through proxy
 * in front of moto, so the count does not depend on the code under test.
 */
import { startFaultProxy, type FaultProxy } from '../../devtools/fault-proxy.js';
import type { BenchContext } from '../context.js';
import { check, sectionRows, type Row, type StageReport } from '../report.js';
import type { Sent } from '../worker.js';

type Counts = Record<string, number>;

/** GetSecretValue requests per SecretId since the proxy was last reset. */
function secretReads(proxy: FaultProxy): Counts {
  const counts: Counts = {};
  for (const r of proxy.requests) {
    if (!r.target.endsWith('.GetSecretValue')) continue;
    const id = r.secretId ?? '?';
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

const most = (counts: Counts) => Math.max(0, ...Object.values(counts));

/** `96 × 200, 4 × 504`: the answers by status. */
function statuses(sent: Sent[]): string {
  const counts = new Map<number, number>();
  for (const s of sent) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => a[0] - b[0])
    .map(([status, n]) => `${n} × ${status}`)
    .join(', ');
}

/** The longest stretch between `from` and `to` in which `secretId` was not read (no read at all: the whole run). */
function longestGap(proxy: FaultProxy, secretId: string, from: number, to: number): number {
  const reads = proxy.requests
    .filter((r) => r.target.endsWith('.GetSecretValue') && r.secretId === secretId)
    .map((r) => r.at);
  const marks = [from, ...reads, to];
  return Math.max(...marks.slice(1).map((at, i) => at - marks[i]!));
}

export async function secretsManagerCalls(bench: BenchContext): Promise<StageReport> {
  const proxy = await startFaultProxy(bench.moto.url);
  bench.onClose(() => proxy.close());
  const target = bench.fastPortal.target;
  const names = { keys: `${bench.prefix}/typing-keys`, portal: `${bench.prefix}/portals/${target.portal}` };
  const per = (counts: Counts) => `typing-keys ${counts[names.keys] ?? 0}, portal ${counts[names.portal] ?? 0}`;
  const ttlSeconds = Number(bench.typingEnv.SECRETS_CACHE_TTL_SECONDS || 300);
  const sequential = (count: number, spacingMs: number) => ({ cmd: 'sequential' as const, target, count, spacingMs });
  const row = sectionRows('Secrets Manager');
  const rows: Row[] = [];

  // (a) 1,000 warm invocations on a container whose first invocation already loaded both secrets.
  let container = await bench.startContainer({ secretsEndpoint: proxy.url });
  await container.run(sequential(1, 0));
  const first = secretReads(proxy);
  proxy.reset();
  const warm = await container.run<{ sent: Sent[]; elapsedMs: number }>(sequential(1000, 0));
  const warmReads = secretReads(proxy);
  await container.stop();
  const warmOk = warm.sent.filter((s) => s.status === 200).length;
  const allowedWarm = Math.ceil(warm.elapsedMs / 1000 / ttlSeconds);
  rows.push(
    row(
      `GetSecretValue per 1,000 warm invocations (TTL ${ttlSeconds} s, ${(warm.elapsedMs / 1000).toFixed(1)} s; first invocation: ${per(first)})`,
      `${per(warmReads)} (${warmOk} × 200)`,
      `≤ ${allowedWarm} per secret`,
      check(most(warmReads) <= allowedWarm && warmOk === 1000 && most(first) === 1),
    ),
  );

  // (b) The TTL really bounds it: 1 s TTL, 1,000 invocations paced over ~3 s.
  proxy.reset();
  container = await bench.startContainer({ secretsEndpoint: proxy.url, env: { SECRETS_CACHE_TTL_SECONDS: '1' } });
  const pacedStart = Date.now();
  const paced = await container.run<{ sent: Sent[]; elapsedMs: number }>(sequential(1000, 3));
  const pacedEnd = Date.now();
  const pacedReads = secretReads(proxy);
  await container.stop();
  const allowedPaced = Math.floor(paced.elapsedMs / 1000) + 1;
  // An upper bound alone passes a cache that never expires. The lower bound: no secret goes longer than two TTLs
  // without a read while requests keep coming (a read waits for Secrets Manager, so a period is TTL + one read).
  const longestGapMs = Math.max(
    ...[names.keys, names.portal].map((name) => longestGap(proxy, name, pacedStart, pacedEnd)),
  );
  rows.push(
    row(
      `GetSecretValue, cold container + 1,000 invocations over ${(paced.elapsedMs / 1000).toFixed(1)} s at SECRETS_CACHE_TTL_SECONDS=1`,
      `${per(pacedReads)}; longest without a read ${(longestGapMs / 1000).toFixed(2)} s`,
      `≤ ${allowedPaced} per secret (1 + one per elapsed TTL), none longer than 2 s without a read`,
      check(most(pacedReads) <= allowedPaced && longestGapMs < 2_000 && paced.sent.every((s) => s.status === 200)),
    ),
  );

  // (c) 100 concurrent requests on a cold container.
  proxy.reset();
  container = await bench.startContainer({ secretsEndpoint: proxy.url });
  const dialogs = Array.from({ length: 100 }, (_, i) => `chat${5000 + i}`);
  const burst = await container.run<{ sent: Sent[] }>({ cmd: 'concurrent', target, dialogs });
  const burstReads = secretReads(proxy);
  await container.stop();
  const burstOk = burst.sent.filter((s) => s.status === 200).length;
  rows.push(
    row(
      '100 concurrent requests on a cold container',
      `${per(burstReads)} (${statuses(burst.sent)})`,
      '1 per secret',
      check(most(burstReads) === 1 && Object.keys(burstReads).length === 2 && burstOk === 100),
    ),
  );
  return { rows, details: [DETAILS] };
}

const DETAILS =
  "### Secrets Manager calls\n\nCounted on the wire by a pass-through proxy in front of moto (`X-Amz-Target: secretsmanager.GetSecretValue`, by `SecretId`), so the count does not depend on the code under test. Each scenario is a fresh container (child process) importing the bundle with the function's serverless.yml environment.";
