import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export interface ColdVariant {
  name: string;
  label: string;
  /** The bundle a fresh process imports and serves one event with; none for bare `node -e 0`. */
  bundle?: string;
  env: Record<string, string>;
}

export interface ColdRun {
  wallMs: number;
  rssMiB: number;
  ok: boolean;
  detail?: string;
}

export interface ColdResult {
  variant: ColdVariant;
  runs: ColdRun[];
  wallMs: number[];
  rssMiB: number[];
  failures: string[];
}

/**
 * Spawns `node invoke.mjs <bundle>` and times spawn → the answer line on stdout; the child then prints its
 * peak RSS (`process.resourceUsage().maxRSS`). Bare Node is `node -e 0`, timed spawn → exit; its RSS comes
 * from a second process that only prints maxRSS (one `-e` statement more).
 */
function runOnce(
  invokeFile: string,
  variant: ColdVariant,
  event: APIGatewayProxyEventV2,
  profileDir?: string,
): Promise<ColdRun> {
  return new Promise((resolve) => {
    const bare = variant.bundle === undefined;
    const profile = !bare && profileDir ? [`--cpu-prof`, `--cpu-prof-dir=${profileDir}/${variant.name}`] : [];
    const args = bare ? ['-e', '0'] : [...profile, invokeFile, pathToFileURL(variant.bundle!).href];
    const env = bare ? variant.env : { ...variant.env, BENCH_EVENT: JSON.stringify(event) };
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let wallMs = NaN;
    let rssKiB = NaN;
    let status: number | undefined;
    let buffered = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.startsWith('BENCH_RESPONSE ')) {
          wallMs = performance.now() - started;
          status = (JSON.parse(line.slice('BENCH_RESPONSE '.length)) as { statusCode: number }).statusCode;
        } else if (line.startsWith('BENCH_RSS ')) {
          rssKiB = Number(line.slice('BENCH_RSS '.length));
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    child.on('exit', (code) => {
      if (bare) wallMs = performance.now() - started;
      const ok = bare ? code === 0 : status === 200 && Number.isFinite(rssKiB);
      resolve({
        wallMs,
        rssMiB: rssKiB / 1024,
        ok,
        ...(ok ? {} : { detail: `exit ${code}, status ${status}: ${stderr.trim().slice(-400)}` }),
      });
    });
  });
}

function bareRss(env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['-e', "process.stdout.write('BENCH_RSS ' + process.resourceUsage().maxRSS + '\\n')"],
      { env, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('exit', () => resolve(Number(/BENCH_RSS (\d+)/.exec(out)?.[1] ?? NaN) / 1024));
  });
}

/**
 * `rounds` measured rounds after `warmupRounds` discarded ones (page cache, moto's first requests). Every
 * round runs each variant once, in an order rotated per round, so drift on the machine hits all alike.
 */
export async function measureColdStarts(input: {
  invokeFile: string;
  variants: ColdVariant[];
  rounds: number;
  warmupRounds: number;
  makeEvent: () => APIGatewayProxyEventV2;
  onRound?: (round: number) => void;
  /** Diagnostic mode: each bundle run writes a V8 CPU profile under `<profileDir>/<variant>/` (times are perturbed). */
  profileDir?: string;
}): Promise<ColdResult[]> {
  const results = input.variants.map((variant) => ({
    variant,
    runs: [] as ColdRun[],
    wallMs: [] as number[],
    rssMiB: [] as number[],
    failures: [] as string[],
  }));
  const total = input.warmupRounds + input.rounds;
  for (let round = 0; round < total; round += 1) {
    const order = results.map((_, i) => (i + round) % results.length);
    for (const index of order) {
      const result = results[index]!;
      const run = await runOnce(input.invokeFile, result.variant, input.makeEvent(), input.profileDir);
      if (round < input.warmupRounds) continue;
      if (result.variant.bundle === undefined) run.rssMiB = await bareRss(result.variant.env);
      result.runs.push(run);
      if (run.ok) {
        result.wallMs.push(run.wallMs);
        result.rssMiB.push(run.rssMiB);
      } else {
        result.failures.push(run.detail ?? 'failed');
      }
    }
    input.onRound?.(round - input.warmupRounds);
  }
  return results;
}
