/**
 * Bundles: every function of serverless.yml and the cold-start baselines, built the way serverless-esbuild
 * builds them for a deploy, so the sizes are the sizes Lambda loads.
 */
import { relative, resolve } from 'node:path';
import { buildLikeServerless, clean, sizeByPackage, type BuiltBundle } from '../bundles.js';
import type { BenchContext } from '../context.js';
import { check, markdownTable, sectionRows, type Row, type StageReport } from '../report.js';
import { fmt } from '../stats.js';
import { TARGET } from '../targets.js';

const BASELINES = ['sdk-only', 'sdk-powertools', 'b24jssdk', 'no-sdk'];

const bundleDir = (bench: BenchContext) => bench.runPath('bundles');

/** Each function's bundle, checked against the size target. */
export async function bundleFunctions(bench: BenchContext): Promise<StageReport> {
  const outRoot = bundleDir(bench);
  clean(outRoot);
  const row = sectionRows('Bundle');
  const rows: Row[] = [];
  for (const [name, fn] of Object.entries(bench.service.functions)) {
    const entry = `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`;
    const built = await buildLikeServerless(bench.root, bench.esbuildOptions, entry, outRoot, name);
    bench.bundles.functions[name] = built;
    const measure = `${name}: ${relative(outRoot, built.file)} minified`;
    rows.push(
      row(measure, fmt.kb(built.bytes), `≤ ${fmt.kb(TARGET.bundleBytes)}`, check(built.bytes <= TARGET.bundleBytes)),
    );
  }
  return { rows, details: [] };
}

/** The baselines the cold-start stage compares against, and any `--variant` handlers; no rows of their own. */
export async function bundleBaselines(bench: BenchContext): Promise<StageReport> {
  const outRoot = bundleDir(bench);
  for (const name of BASELINES) {
    const entry = `bench/baselines/${name}.ts`;
    bench.bundles.baselines[name] = await buildLikeServerless(bench.root, bench.esbuildOptions, entry, outRoot, name);
  }
  for (const { name, entry } of bench.options.variants) {
    const file = relative(bench.root, resolve(bench.root, entry));
    const built = await buildLikeServerless(bench.root, bench.esbuildOptions, file, outRoot, name);
    bench.bundles.variants.push({ name, label: `extra: ${name}`, bundle: built.file, env: {} });
  }
  const all = [...Object.values(bench.bundles.functions), ...Object.values(bench.bundles.baselines)];
  return { rows: [], details: [bundleDetails(all, bench.esbuildOptions)] };
}

function bundleDetails(bundles: BuiltBundle[], options: object): string {
  const lines = bundles.map((b) => {
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
