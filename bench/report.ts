import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { ChartFigures } from './chart.js';

export type Status = 'PASS' | 'FAIL' | 'info';

export interface Row {
  section: string;
  measure: string;
  value: string;
  target: string;
  status: Status;
}

export function check(pass: boolean): Status {
  return pass ? 'PASS' : 'FAIL';
}

/** Rows of one section, written as `row(measure, value, target, status)`. */
export function sectionRows(section: string): (measure: string, value: string, target: string, status: Status) => Row {
  return (measure, value, target, status) => ({ section, measure, value, target, status });
}

/** What one stage of the suite hands back: its rows, and how it measured them. */
export interface StageReport {
  rows: Row[];
  /** Markdown sections for BENCHMARKS.md's "How each figure is measured", in order. */
  details: string[];
  /** Figures for bench/cold-warm.svg. */
  chart?: ChartFigures;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  date: string;
}

export function machine(): Machine {
  let os = `${process.platform} ${process.arch}`;
  try {
    os = execFileSync('uname', ['-srm'], { encoding: 'utf8' }).trim();
  } catch {
    // uname missing: platform and arch will do
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/** A fixed-width table for the terminal. */
export function textTable(rows: Row[]): string {
  const header = ['', 'measure', 'value', 'target', 'section'];
  const lines = rows.map((r) => [r.status, r.measure, r.value, r.target, r.section]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render)].join('\n');
}

export function markdownTable(header: string[], lines: string[][]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...lines.map((cells) => `| ${cells.map(escape).join(' | ')} |`),
  ].join('\n');
}
