// Makes sure .venv holds the pinned Python tools (moto's server for Secrets Manager and EventBridge,
// cfn-lint). Reinstalls only when requirements-dev.txt changes, so repeat runs cost nothing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const venv = join(root, '.venv');
export const venvBin = (name) => join(venv, 'bin', name);

export function ensurePythonEnv({ quiet = false } = {}) {
  const requirements = join(root, 'requirements-dev.txt');
  const digest = createHash('sha256').update(readFileSync(requirements)).digest('hex');
  const stamp = join(venv, '.requirements.sha256');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === digest && existsSync(venvBin('moto_server'))) return;
  const python = process.env.PYTHON ?? 'python3';
  const stdio = quiet ? 'ignore' : 'inherit';
  if (!quiet) console.error('[python-env] installing pinned Python tools into .venv (first run only)…');
  if (!existsSync(venvBin('python'))) execFileSync(python, ['-m', 'venv', venv], { stdio });
  const pipInstall = ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', '-r', requirements];
  execFileSync(venvBin('python'), pipInstall, { stdio });
  writeFileSync(stamp, digest);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensurePythonEnv();
