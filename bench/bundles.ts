import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';

/** What `osls print` resolves from serverless.yml: only the parts the bench uses. */
export interface ServiceConfig {
  esbuild: Record<string, unknown>;
  runtime: string;
  memorySize: number;
  functions: Record<string, { handler: string; environment: Record<string, string> }>;
}

// serverless-esbuild strips these plugin options before handing the rest to esbuild (its bundle.ts).
const PLUGIN_ONLY = [
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
];

/** Resolves serverless.yml exactly as the deploy does (variables included), with no tuning knobs from this shell. */
export function loadServiceConfig(root: string, stage: string): ServiceConfig {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root };
  const text = execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'osls', 'bin', 'serverless.js'), 'print', '--format', 'json', '--stage', stage],
    {
      cwd: root,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const config = JSON.parse(text) as {
    custom: { esbuild: Record<string, unknown> };
    provider: { runtime: string; memorySize?: number; environment?: Record<string, string> };
    functions: Record<string, { handler: string; environment?: Record<string, string> }>;
  };
  const functions: ServiceConfig['functions'] = {};
  for (const [name, fn] of Object.entries(config.functions)) {
    functions[name] = { handler: fn.handler, environment: { ...config.provider.environment, ...fn.environment } };
  }
  return {
    esbuild: config.custom.esbuild,
    runtime: config.provider.runtime,
    memorySize: config.provider.memorySize ?? 1024,
    functions,
  };
}

/**
 * The esbuild options serverless-esbuild derives from `custom.esbuild`: its defaults (bundle, exclude
 * `aws-sdk`, platform node), merged under the service's options, plugin-only keys removed, `exclude` turned
 * into `external`, and `.mjs` through `outExtension`.
 */
export function serverlessEsbuildOptions(custom: Record<string, unknown>): BuildOptions {
  const merged: Record<string, unknown> = {
    bundle: true,
    target: 'node18',
    external: [],
    exclude: ['aws-sdk'],
    platform: 'node',
    outputFileExtension: '.js',
    ...custom,
  };
  const exclude = (merged.exclude as string[]).filter((x) => typeof x === 'string');
  const options: Record<string, unknown> = { ...merged };
  for (const key of PLUGIN_ONLY) delete options[key];
  options.external = [...((merged.external as string[]) ?? []), ...(exclude.includes('*') ? [] : exclude)];
  if (merged.outputFileExtension !== '.js') options.outExtension = { '.js': merged.outputFileExtension as string };
  return options as BuildOptions;
}

export interface BuiltBundle {
  name: string;
  /** Absolute path of the .mjs. */
  file: string;
  bytes: number;
  mapBytes: number;
  metafile: Metafile;
}

/** Builds `entry` (relative to root) the way serverless-esbuild does, into `outRoot/<dir of entry>/`. */
export async function buildLikeServerless(
  root: string,
  options: BuildOptions,
  entry: string,
  outRoot: string,
  name: string,
): Promise<BuiltBundle> {
  const outdir = join(outRoot, dirname(entry));
  mkdirSync(outdir, { recursive: true });
  // A metafile changes nothing in the output; it is only read for the size breakdown.
  const result = await build({
    ...options,
    absWorkingDir: root,
    entryPoints: [entry],
    outdir,
    metafile: true,
    logLevel: 'warning',
  });
  const ext = (options.outExtension as Record<string, string> | undefined)?.['.js'] ?? '.js';
  const file = join(outdir, basename(entry).replace(/\.[cm]?[jt]s$/, '') + ext);
  let mapBytes = 0;
  try {
    mapBytes = statSync(`${file}.map`).size;
  } catch {
    // no source map configured
  }
  return { name, file, bytes: statSync(file).size, mapBytes, metafile: result.metafile };
}

/** Input bytes in the output by package (node_modules/<pkg>) or by our own top folder, largest first. */
export function sizeByPackage(metafile: Metafile): Array<{ what: string; bytes: number }> {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const what = m ? m[1]! : input.split('/').slice(0, 2).join('/');
      totals.set(what, (totals.get(what) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].map(([what, bytes]) => ({ what, bytes })).sort((a, b) => b.bytes - a.bytes);
}

export function clean(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
