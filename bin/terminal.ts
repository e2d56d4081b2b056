import { styleText } from 'node:util';

export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Everything a command touches outside itself, so tests run the CLI in-process with their own streams. */
export interface Io {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

type Style = Parameters<typeof styleText>[0];

export interface Palette {
  enabled: boolean;
  paint(style: Style, text: string): string;
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org) or TERM is dumb. */
export function paletteFor(stream: OutputStream, env: Io['env']): Palette {
  const enabled = stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
  // validateStream: false because we decided above, per stream; Node 22 would otherwise look at stdout only.
  return { enabled, paint: (style, text) => (enabled ? styleText(style, text, { validateStream: false }) : text) };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
export const SPINNER_DELAY_MS = 1_000;

/**
 * Runs `work`, and if it takes longer than a second shows a spinner line on stderr until it ends. Nothing is
 * drawn when stderr is not a terminal, so piped and captured output stays clean.
 */
export async function withProgress<T>(io: Io, label: string, work: () => Promise<T>): Promise<T> {
  if (io.stderr.isTTY !== true) return work();
  const palette = paletteFor(io.stderr, io.env);
  let frame = 0;
  let drawn = false;
  let interval: NodeJS.Timeout | undefined;
  const draw = () => {
    drawn = true;
    io.stderr.write(`\r${palette.paint('cyan', FRAMES[frame % FRAMES.length] as string)} ${label}\u001b[K`);
    frame += 1;
  };
  const start = setTimeout(() => {
    draw();
    interval = setInterval(draw, 80);
  }, SPINNER_DELAY_MS);
  try {
    return await work();
  } finally {
    clearTimeout(start);
    clearInterval(interval);
    if (drawn) io.stderr.write('\r\u001b[2K');
  }
}
