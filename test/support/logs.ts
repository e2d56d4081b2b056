import { createLogger, type Logger } from '../../lib/logging/index.js';

/** A logger whose lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: string[]; records: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', sink: (line) => lines.push(line) });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}
