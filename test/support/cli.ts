import { run } from '../../bin/program.js';
import type { Io } from '../../bin/terminal.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON object `--json` prints. */
  json: () => Record<string, unknown>;
}

/**
 * Runs the CLI in-process, with captured streams that are not terminals (as in a pipe) unless `tty` says so.
 * `env` replaces the process environment for the CLI's own settings; the AWS SDK still reads process.env,
 * which the test setup points at moto.
 */
export async function cli(
  argv: string[],
  options: {
    env?: Record<string, string | undefined>;
    cwd?: string;
    tty?: { stdout?: boolean; stderr?: boolean };
  } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (text: string) => (stdout += text), isTTY: options.tty?.stdout ?? false },
    stderr: { write: (text: string) => (stderr += text), isTTY: options.tty?.stderr ?? false },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}
