import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/**
 * One row of RELIABILITY.md: what a scenario sent, what came back, and the figures measured in this run.
 * Rows are written to .cache/reliability/<id>.json; `npm run reliability` renders them into RELIABILITY.md.
 */
export interface ScenarioRow {
  /** Stable id, also the file name: `faults/portal-503-burst`. */
  id: string;
  /** Table section: `Hostile input`, `Faults`, `Load`, `Leaks`. */
  section: 'Hostile input' | 'Faults' | 'Load' | 'Leaks';
  scenario: string;
  sent: string;
  got: string;
  /** Measured numbers, e.g. `{ requests: 1000, p50Ms: 4.1 }`. */
  figures: Record<string, number | string>;
  /** The test file (and name filter) that reproduces the row. */
  command: string;
  /**
   * How many cases, requests, rounds or log lines the verdict rests on. A row that observed nothing proves
   * nothing, so `npm run reliability` renders 0 as red whatever the test said.
   */
  observations: number;
}

const dir = join(process.cwd(), '.cache', 'reliability');

/**
 * Records the row of the running test. It is written once the test has finished, with the test's own verdict
 * (`passed`): call it before the expectations, so a failing scenario leaves a red row with its figures rather
 * than no row at all. Rows are listed in test/reliability/expected-rows.json; a listed row that no test wrote
 * renders red too.
 */
export function recordScenario(row: ScenarioRow): void {
  onTestFinished(({ task }) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, `${row.id.replace(/[^A-Za-z0-9_-]/g, '_')}.json`),
      JSON.stringify(
        { ...row, passed: task.result?.state === 'pass', at: new Date().toISOString(), node: process.version },
        null,
        2,
      ),
    );
  });
}

/** p-th percentile (0..100) of durations, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[rank]! * 10) / 10;
}

/** Counts of each value, e.g. statuses: `{ "200": 980, "429": 20 }`. */
export function countBy<T extends string | number>(values: T[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const value of values) out[String(value)] = (out[String(value)] ?? 0) + 1;
  return out;
}
