import { readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time of V8 CPU profiles (from `--cpu-prof`), averaged per profile and attributed through the bundle's
 * source map to the package (or our own folder) the code came from; Node's own code by internal module group.
 */
export function summarizeProfiles(dir: string): Array<{ what: string; ms: number }> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const totals = new Map<string, number>();
  const maps = new Map<string, SourceMap | null>();
  const mapFor = (url: string): SourceMap | null => {
    if (!maps.has(url)) {
      try {
        const file = fileURLToPath(url);
        maps.set(url, new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))));
      } catch {
        maps.set(url, null);
      }
    }
    return maps.get(url)!;
  };
  for (const name of files) {
    const profile = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const label = new Map<number, string>();
    const labelOf = (id: number): string => {
      const cached = label.get(id);
      if (cached) return cached;
      const frame = byId.get(id)!.callFrame;
      let what: string;
      if (!frame.url) what = frame.functionName || '(anonymous)';
      else if (frame.url.startsWith('node:'))
        what = `node: ${frame.url
          .replace(/^node:(internal\/)?/, '')
          .split('/')
          .slice(0, 2)
          .join('/')}`;
      else if (frame.url.endsWith('.mjs') && frame.url.startsWith('file:')) {
        const entry = mapFor(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber) as
          { originalSource?: string } | undefined;
        const source = entry?.originalSource ?? frame.url;
        const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
        what = m
          ? m[1]!
          : entry?.originalSource
            ? source
                .replace(/^.*?\/(lib|functions|bench)\//, '$1/')
                .split('/')
                .slice(0, 2)
                .join('/')
            : 'bundle, unmapped (module top level)';
      } else what = frame.url;
      label.set(id, what);
      return what;
    };
    profile.samples.forEach((id, i) => {
      const what = labelOf(id);
      totals.set(what, (totals.get(what) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000 / files.length);
    });
  }
  return [...totals].map(([what, ms]) => ({ what, ms })).sort((a, b) => b.ms - a.ms);
}
