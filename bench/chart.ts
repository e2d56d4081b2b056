import type { ColdResult } from './cold-start.js';
import type { Machine } from './report.js';
import { median } from './stats.js';

/** Warm latency percentiles in ms: the handler, baseline (b) making the same calls, the bare portal fetch. */
export interface WarmFigures {
  handler50: number;
  handler99: number;
  baseline50: number;
  baseline99: number;
  fetch50: number;
  fetch99: number;
}

/** What bench/cold-warm.svg draws; a stage that did not run leaves its part out. */
export interface ChartFigures {
  cold?: ColdResult[];
  warm?: WarmFigures;
}

interface BarGroup {
  title: string;
  unit: string;
  bars: Array<{ label: string; value: number; highlight?: boolean; note?: string }>;
}

/** A hand-written horizontal bar chart, one panel per group, no dependencies. */
function barChartSvg(title: string, subtitle: string, groups: BarGroup[]): string {
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
      out.push(
        `<text x="${labelWidth - 8}" y="${y + barHeight - 6}" text-anchor="end" class="l">${esc(bar.label)}</text>`,
      );
      out.push(
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" class="${bar.highlight ? 'ours' : 'other'}"/>`,
      );
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

/** bench/cold-warm.svg: cold-start wall time and peak RSS per variant, then warm latency against a bare fetch. */
export function coldWarmSvg(chart: ChartFigures, host: Machine): string {
  const groups: BarGroup[] = [];
  if (chart.cold) {
    const ours = (r: ColdResult) => r.variant.name === 'ours';
    groups.push({
      title: 'Cold start: spawn → first /typing answered (median wall time)',
      unit: 'ms',
      bars: chart.cold.map((r) => ({ label: r.variant.label, value: median(r.wallMs), highlight: ours(r) })),
    });
    groups.push({
      title: 'Cold start: peak RSS (median)',
      unit: 'MiB',
      bars: chart.cold.map((r) => ({ label: r.variant.label, value: median(r.rssMiB), highlight: ours(r) })),
    });
  }
  if (chart.warm) {
    groups.push({
      title: 'Warm: one /typing request vs (b) making the same calls, and the bare portal fetch',
      unit: 'ms',
      bars: [
        { label: '/typing handler p50', value: chart.warm.handler50, highlight: true },
        { label: '(b) same calls p50', value: chart.warm.baseline50 },
        { label: 'bare fetch p50', value: chart.warm.fetch50 },
        { label: '/typing handler p99', value: chart.warm.handler99, highlight: true },
        { label: '(b) same calls p99', value: chart.warm.baseline99 },
        { label: 'bare fetch p99', value: chart.warm.fetch99 },
      ],
    });
  }
  const subtitle = `${host.date} · Node ${host.node} · ${host.cpu}, ${host.cores} cores · loopback moto and portal`;
  return barChartSvg('bitrix24-typing: cold and warm', subtitle, groups);
}
