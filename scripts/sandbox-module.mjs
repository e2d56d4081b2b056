// The sandbox's portal simulator is TypeScript shared with the tests: `npm start` and `npm run simulator` bundle
// one of its entry points into .cache and load it.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles `sandbox/<name>.ts` and imports it. */
export async function importSandboxModule(name) {
  const outfile = join(root, '.cache', 'sandbox', `${name}.mjs`);
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(root, 'sandbox', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile,
    logLevel: 'error',
  });
  return import(pathToFileURL(outfile).href);
}
