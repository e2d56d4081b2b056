// `npm run pack:client [-- <folder>]`: the typed client (lib/client) as a package of its own, packages/client/,
// packed into bitrix24-typing-client-<version>.tgz in <folder> (default: the project root). The bundle imports
// nothing but node:crypto and the package has no dependencies, so a caller's tree gets no AWS SDK. Prints the
// tarball's path.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'packages', 'client');
const out = resolve(process.argv[2] ?? root);
const dist = join(pkg, 'dist');

rmSync(dist, { recursive: true, force: true });
// Callers may still run Node 20: the client targets it, whatever the service itself requires.
await build({
  entryPoints: [join(root, 'lib', 'client', 'index.ts')],
  outfile: join(dist, 'index.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
// prettier-ignore
execFileSync(process.execPath, [tsc, 'lib/client/index.ts', '--ignoreConfig', '--declaration', '--emitDeclarationOnly',
  '--rootDir', '.', '--outDir', join(dist, 'types'), '--module', 'nodenext', '--moduleResolution', 'nodenext',
  '--target', 'es2023', '--types', 'node', '--strict', '--skipLibCheck'], { cwd: root, stdio: 'inherit' });
mkdirSync(out, { recursive: true });
const [packed] = JSON.parse(
  execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: pkg, encoding: 'utf8' }),
);
console.log(join(out, packed.filename));
