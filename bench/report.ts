import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

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
  const render = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
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

export interface BarGroup {
  title: string;
  unit: string;
  bars: Array<{ label: string; value: number; highlight?: boolean; note?: string }>;
}

/** A hand-written horizontal bar chart, one panel per group, no dependencies. */
export function barChartSvg(title: string, subtitle: string, groups: BarGroup[]): string {
  const width = 760;
  const labelWidth = 230;
  const barArea = width - labelWidth - 130;
  const barHeight = 20;
  const gap = 8;
  const out: string[] = [];
  let y = 58;
  const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  for (const group of groups) {
    out.push(`<text x="16" y="${y}" class="h">${esc(group.title)}</text>`);
    y += 12;
    const max = Math.max(...group.bars.map((b) => b.value), 1e-9);
    for (const bar of group.bars) {
      const w = Math.max(1, (bar.value / max) * barArea);
      out.push(`<text x="${labelWidth - 8}" y="${y + barHeight - 6}" text-anchor="end" class="l">${esc(bar.label)}</text>`);
      out.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" class="${bar.highlight ? 'ours' : 'other'}"/>`);
      const value = `${bar.value.toFixed(bar.value >= 100 ? 0 : bar.value >= 10 ? 1 : 2)} ${group.unit}${bar.note ? `  ${bar.note}` : ''}`;
      out.push(`<text x="${labelWidth + w + 6}" y="${y + barHeight - 6}" class="v">${esc(value)}</text>`);
      y += barHeight + gap;
    }
    y += 22;
  }
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    '<style>.t{font-size:16px;font-weight:600;fill:#111}.s{font-size:11px;fill:#555}.h{font-size:13px;font-weight:600;fill:#222}.l{font-size:12px;fill:#222}.v{font-size:11px;fill:#333}.ours{fill:#2f6fdf}.other{fill:#b8c2cc}</style>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="24" class="t">${esc(title)}</text>`,
    `<text x="16" y="40" class="s">${esc(subtitle)}</text>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
