/**
 * The process side of process-container.ts: announces the container ready, runs each message from stdin at its
 * `fireAt` instant (so peers in other processes fire together), writes one result line per invocation with when
 * it fired and how long it took, and exits once stdin is closed and every invocation has answered.
 */
import { createInterface } from 'node:readline';

const emit = (record: Record<string, unknown>, then?: () => void): void => {
  process.stdout.write(JSON.stringify({ ...record, pid: process.pid }) + '\n', then);
};

export function serveInvocations<M extends { fireAt: number }>(
  invoke: (message: M) => Promise<Record<string, unknown>>,
): void {
  emit({ container: 'ready' });
  let pending = 0;
  let closed = false;
  const run = async (message: M) => {
    const firedAt = Date.now();
    const started = performance.now();
    let record: Record<string, unknown>;
    try {
      record = await invoke(message);
    } catch (error) {
      // The handler must never throw; if it does, the parent sees it as status 0.
      record = { status: 0, thrown: String(error) };
    }
    const elapsedMs = Math.round((performance.now() - started) * 10) / 10;
    pending -= 1;
    // Exit once the last line is flushed: the SDK's keep-alive sockets would otherwise keep the process up.
    emit({ container: 'result', ...record, firedAt, elapsedMs }, () => {
      if (closed && pending === 0) process.exit(0);
    });
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const message = JSON.parse(line) as M;
    pending += 1;
    setTimeout(() => void run(message), Math.max(0, message.fireAt - Date.now()));
  });
  lines.on('close', () => {
    closed = true;
    if (pending === 0) process.exit(0);
  });
}
