import { createLogger, type Logger } from '../../lib/logging/index.js';

type Line = Record<string, unknown>;

/**
 * A logger whose lines are kept for assertions. `records` are the log lines; the functions' embedded-metric
 * records go to the same sink (as on Lambda) and are kept apart in `metricRecords`, so a test reading "the
 * request's last line" reads its summary line.
 */
export function captureLogger(): {
  logger: Logger;
  lines: string[];
  records: () => Line[];
  metricRecords: () => Line[];
} {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: (line) => lines.push(line) });
  const parsed = () => lines.map((line) => JSON.parse(line) as Line);
  return {
    logger,
    lines,
    records: () => parsed().filter((record) => !('_aws' in record)),
    metricRecords: () => parsed().filter((record) => '_aws' in record),
  };
}
