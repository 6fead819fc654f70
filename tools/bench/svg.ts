// The chart: rows/s by method, one panel per section, hand-written SVG (no dependency). The
// toolkit's own methods are drawn in blue, the ceiling in dark grey, everything else light grey;
// a method that was not measured keeps its line with the reason instead of a bar.
import { fmtInt } from './context';
import { BenchReport, TimedCall } from './types';

interface Bar {
  label: string;
  value: number | null;
  kind: 'toolkit' | 'ceiling' | 'other';
  /** Shown after the value (ratio) or instead of a bar (why not measured). */
  extra: string;
}

interface Panel {
  title: string;
  bars: Bar[];
}

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function callText(t: TimedCall | null): string {
  if (!t) return '-';
  if (t.ms === null) return `did not finish in ${t.timedOutAfterSeconds} s`;
  return t.ms >= 10_000 ? `${(t.ms / 1000).toFixed(1)} s` : `${t.ms} ms`;
}

const COLOURS = { toolkit: '#2b6cb0', ceiling: '#4a5568', other: '#a0aec0' };

function panels(report: BenchReport): Panel[] {
  const out: Panel[] = [];
  if (report.load) {
    out.push({
      title: `Bulk load of ${fmtInt(report.load.rows)} messages (rows/s; ratio to the ceiling)`,
      bars: report.load.results.map((r) => ({
        label: r.label, value: r.status === 'ok' ? r.perSecond : null,
        kind: r.method === 'ceiling' ? 'ceiling' : r.method.startsWith('loader') ? 'toolkit' : 'other',
        extra: r.status === 'ok' ? (r.ratioToCeiling !== null ? `${r.ratioToCeiling.toFixed(2)}x` : '') : `${r.status}: ${(r.note ?? '').slice(0, 70)}`,
      })),
    });
  }
  if (report.claim) {
    const bars: Bar[] = [];
    for (const w of report.claim.workers) {
      for (const r of report.claim.results.filter((x) => x.workers === w)) {
        bars.push({
          label: `${w} worker${w > 1 ? 's' : ''}: ${r.method === 'pipeline' ? 'pipeline' : r.method === 'bare' ? 'bare SKIP LOCKED' : 'naive UPDATE LIMIT'}`,
          value: r.status === 'ok' ? r.perSecond : null, kind: r.method === 'pipeline' ? 'toolkit' : 'other',
          extra: r.status === 'ok' ? (r.duplicates || r.lost ? `${r.duplicates} dup, ${r.lost} lost!` : '') : `${r.status}: ${(r.note ?? '').slice(0, 70)}`,
        });
      }
    }
    out.push({ title: `Claim + complete, ${fmtInt(report.claim.rows)} messages, batches of ${report.claim.batchSize} (rows/s)`, bars });
  }
  if (report.maintenance) {
    const m = report.maintenance;
    out.push({
      title: 'Maintenance (messages/s moved to history, rows/s offloaded)',
      bars: [m.historyMove, m.offload].map((r) => ({
        label: r.label.replace(/ \(.*$/, ''), value: r.status === 'ok' ? r.perSecond : null, kind: 'toolkit' as const,
        extra: r.status === 'ok' ? '' : `${r.status}: ${(r.note ?? '').slice(0, 70)}`,
      })),
    });
  }
  return out;
}

export function renderChart(report: BenchReport): string {
  const width = 980;
  const labelW = 330;
  const barW = 420;
  const rowH = 22;
  const s = report.server;
  const lines: string[] = [];
  let y = 28;
  lines.push(`<text x="16" y="${y}" font-size="17" font-weight="bold">${esc(`reminderly-db bench: ${s.flavour} ${s.version}`)}</text>`);
  y += 20;
  lines.push(`<text x="16" y="${y}" font-size="12" fill="#4a5568">${esc(
    `innodb_flush_log_at_trx_commit=${s.durability.innodb_flush_log_at_trx_commit}, sync_binlog=${s.durability.sync_binlog}, log_bin=${s.durability.log_bin}; ` +
    `${report.machine.cpus} x ${report.machine.cpuModel}, mean load ${report.machine.load.mean}; ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`)}</text>`);
  y += 10;
  for (const panel of panels(report)) {
    y += 30;
    lines.push(`<text x="16" y="${y}" font-size="14" font-weight="bold">${esc(panel.title)}</text>`);
    y += 8;
    const max = Math.max(1, ...panel.bars.map((b) => b.value ?? 0));
    for (const bar of panel.bars) {
      const top = y + 4;
      lines.push(`<text x="${16 + labelW - 8}" y="${top + 14}" font-size="12" text-anchor="end">${esc(bar.label.slice(0, 52))}</text>`);
      if (bar.value !== null) {
        const w = Math.max(1, Math.round((bar.value / max) * barW));
        lines.push(`<rect x="${16 + labelW}" y="${top}" width="${w}" height="${rowH - 6}" fill="${COLOURS[bar.kind]}"><title>${esc(`${bar.label}: ${fmtInt(bar.value)} per second`)}</title></rect>`);
        lines.push(`<text x="${16 + labelW + w + 6}" y="${top + 13}" font-size="12">${esc(`${fmtInt(bar.value)}${bar.extra ? `  (${bar.extra})` : ''}`)}</text>`);
      } else {
        lines.push(`<text x="${16 + labelW}" y="${top + 13}" font-size="12" fill="#c53030">${esc(bar.extra || 'not measured')}</text>`);
      }
      y += rowH;
    }
  }
  if (report.scale) {
    const sc = report.scale;
    y += 30;
    lines.push(`<text x="16" y="${y}" font-size="14" font-weight="bold">${esc(`Scale: ${fmtInt(sc.sets)} campaign sets, ${fmtInt(sc.tablesInDatabase)} tables`)}</text>`);
    y += 20;
    lines.push(`<text x="16" y="${y}" font-size="12">${esc(`create ${fmtInt(sc.create.perSecond)} sets/s (${fmtInt(sc.create.tablesPerSecond)} tables/s); ` +
      `upgrade ${fmtInt(sc.upgrade.perSecond)} sets/s; campaign list ${callText(sc.list)}; migrate status ${callText(sc.status)}`)}</text>`);
  }
  if (report.targets.length) {
    y += 30;
    lines.push(`<text x="16" y="${y}" font-size="14" font-weight="bold">Targets</text>`);
    for (const t of report.targets) {
      y += 18;
      const mark = t.pass === null ? 'N/A' : t.pass ? 'PASS' : 'FAIL';
      const colour = t.pass === null ? '#718096' : t.pass ? '#2f855a' : '#c53030';
      lines.push(`<text x="16" y="${y}" font-size="12"><tspan fill="${colour}" font-weight="bold">${mark}</tspan> ${esc(`${t.description}: ${t.ratio === null ? 'not judged' : `${t.ratio.toFixed(2)}x`}`)}</text>`);
    }
  }
  y += 24;
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="Helvetica, Arial, sans-serif">\n` +
    `<rect width="${width}" height="${y}" fill="#ffffff"/>\n${lines.join('\n')}\n</svg>\n`;
}
