// The targets (ratios measured in the same run: loader, claim pipeline, offload, restart, sql run), and the printed table.
import { fmtInt } from './context';
import { BenchReport, ClaimResult, TargetCheck } from './types';

function claimRate(report: BenchReport, method: string, workers: number): ClaimResult | undefined {
  return report.claim?.results.find((r) => r.method === method && r.workers === workers);
}

function check(name: string, description: string, threshold: number, measured: number | null | undefined, reference: number | null | undefined, missing: string): TargetCheck {
  if (!measured || !reference) return { name, description, ratio: null, threshold, pass: null, note: missing };
  const ratio = Number((measured / reference).toFixed(3));
  return { name, description, ratio, threshold, pass: ratio >= threshold };
}

export function evaluateTargets(report: BenchReport): TargetCheck[] {
  const targets: TargetCheck[] = [];
  if (report.load) {
    const loader = report.load.results.find((r) => r.method === 'loader');
    const ceiling = report.load.results.find((r) => r.method === 'ceiling');
    targets.push(check('loader-vs-ceiling', 'bulk loader >= 0.9x raw LOAD DATA of the same file (the ceiling)', 0.9,
      loader?.perSecond, ceiling?.perSecond, ceiling?.status === 'ok' ? `loader ${loader?.status}: ${loader?.note ?? ''}` : `the ceiling was ${ceiling?.note ?? 'not measured'}`));
  }
  if (report.claim) {
    const top = Math.max(...report.claim.workers);
    const p16 = claimRate(report, 'pipeline', top);
    const why = (r?: ClaimResult, what = '') => (r ? `${what} ${r.status}: ${r.note ?? ''}` : `${what} not run`);
    targets.push(check('pipeline-vs-bare', `pipeline with ${top} workers >= 0.5x the bare SKIP LOCKED loop with ${top} workers`, 0.5,
      p16?.perSecond, claimRate(report, 'bare', top)?.perSecond, why(claimRate(report, 'bare', top), 'bare loop')));
    targets.push(check('pipeline-scaling', `pipeline with ${top} workers >= 0.8x its own 4-worker rate`, 0.8,
      p16?.perSecond, claimRate(report, 'pipeline', 4)?.perSecond, why(claimRate(report, 'pipeline', 4), 'pipeline with 4 workers')));
    targets.push(check('pipeline-vs-naive', `pipeline with ${top} workers >= 2x the naive UPDATE ... LIMIT claim with ${top} workers`, 2,
      p16?.perSecond, claimRate(report, 'naive', top)?.perSecond, why(claimRate(report, 'naive', top), 'naive claim')));
  }
  if (report.maintenance?.offloadByHand) {
    const m = report.maintenance;
    targets.push(check('offload-vs-hand', 'toolkit offload (dump, manifest, restore-verify, drop) >= 0.9x the same chain by hand', 0.9,
      m.offload.perSecond, m.offloadByHand.perSecond, `offload ${m.offload.status}, by hand ${m.offloadByHand.status}: ${m.offloadByHand.note ?? ''}`));
  }
  if (report.restart) {
    const r = report.restart;
    targets.push(check('restart-vs-before', `claims after a kill -9 and restart with unpersisted statistics >= 0.8x the same claims before the restart (${r.workers} workers)`, 0.8,
      r.after.perSecond, r.before.perSecond, `after ${r.after.status}, before ${r.before.status}`));
  }
  if (report.sqlrun) {
    const [client, runner] = report.sqlrun.results;
    targets.push(check('sqlrun-vs-client', `sql run replays a ${report.sqlrun.megabytes} MB dump >= 0.8x as fast as ${client.label}`, 0.8,
      runner.perSecond, client.perSecond, `client ${client.status}, runner ${runner.status}: ${runner.note ?? client.note ?? ''}`));
  }
  return targets;
}

function pad(text: string, width: number, right = false): string {
  if (text.length >= width) return text;
  return right ? text.padStart(width) : text.padEnd(width);
}

function table(head: string[], rows: string[][], rightFrom = 1): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => pad(c, widths[i], i >= rightFrom)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

const ratio = (r: number | null | undefined) => (r === null || r === undefined ? '-' : `${r.toFixed(2)}x`);

export function formatReport(report: BenchReport): string {
  const out: string[] = [];
  const s = report.server;
  out.push(`reminderly-db bench: ${s.flavour} ${s.versionComment} at ${s.url}`);
  out.push(`  durability: innodb_flush_log_at_trx_commit=${s.durability.innodb_flush_log_at_trx_commit}, sync_binlog=${s.durability.sync_binlog}, ` +
    `log_bin=${s.durability.log_bin}, binlog_format=${s.durability.binlog_format}, doublewrite=${s.durability.innodb_doublewrite}; ` +
    `buffer pool ${s.innodb_buffer_pool_size_mb} MB, isolation ${s.isolation}, local_infile ${s.local_infile ? 'ON' : 'OFF'}`);
  const m = report.machine;
  out.push(`  machine: ${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, node ${m.node}; load ${m.load.start} at start, mean ${m.load.mean}, max ${m.load.max}`);
  out.push(`  ${m.note}`);
  out.push(`  ${report.startedAt}, ${report.seconds.toFixed(0)} s, database ${report.database} (dropped)`);
  if (report.load) {
    const l = report.load;
    out.push('', `Bulk load: ${fmtInt(l.rows)} messages into a fresh campaign set per method (CSV ${(l.file.bytes / 1048576).toFixed(1)} MB)`);
    out.push(...table(['method', 'rows', 'seconds', 'rows/s', 'x ceiling'], l.results.map((r) => [
      r.label, fmtInt(r.units), r.status === 'ok' ? r.seconds.toFixed(2) : r.status, fmtInt(r.perSecond), ratio(r.ratioToCeiling)])));
    out.push(`  ceiling: ${l.ceiling.note}`);
    for (const r of l.results.filter((x) => x.note && x.method !== 'ceiling')) out.push(`  ${r.label}: ${r.note}`);
  }
  if (report.claim) {
    const c = report.claim;
    out.push('', `Claim + complete: ${fmtInt(c.rows)} ready messages, batches of ${c.batchSize}, each worker on its own connection`);
    out.push(...table(['method', 'workers', 'rows/s', 'seconds', 'duplicates', 'lost', 'retries', 'max row locks'], c.results.map((r) => [
      r.label, String(r.workers), r.status === 'ok' ? fmtInt(r.perSecond) : r.status, r.status === 'ok' ? r.seconds.toFixed(1) : '-',
      String(r.duplicates), String(r.lost), String(r.retries), fmtInt(r.maxRowLocks)])));
    for (const r of c.results.filter((x) => x.status !== 'ok')) out.push(`  ${r.label}, ${r.workers} workers: ${r.note}`);
    const iso = [...new Set(c.results.map((r) => `${r.method}: ${r.isolation}`))];
    out.push(`  isolation: ${iso.join('; ')}`);
  }
  if (report.scale) {
    const sc = report.scale;
    out.push('', `Scale: ${fmtInt(sc.sets)} campaign sets of ${sc.tablesPerSet} tables (${fmtInt(sc.tablesInDatabase)} tables in the database)`);
    out.push(...table(['step', 'sets', 'seconds', 'sets/s', 'tables/s'], [
      [sc.create.label, fmtInt(sc.create.units), sc.create.seconds.toFixed(1), fmtInt(sc.create.perSecond), fmtInt(sc.create.tablesPerSecond)],
      [`${sc.upgrade.label} (v${sc.upgrade.fromVersion} -> v${sc.upgrade.toVersion})`, fmtInt(sc.upgrade.units), sc.upgrade.seconds.toFixed(1), fmtInt(sc.upgrade.perSecond), fmtInt(sc.upgrade.tablesPerSecond)],
    ]));
    for (const [t, what] of [[sc.list, 'sets'], [sc.status, 'files']] as const) {
      if (!t) continue;
      out.push(t.ms === null
        ? `  ${t.label}: did not finish in ${t.timedOutAfterSeconds} s (stopped by KILL QUERY) with ${fmtInt(sc.tablesInDatabase)} tables present`
        : t.runsMs.length === 1
          ? `  ${t.label}: ${(t.ms / 1000).toFixed(1)} s (one call: over 10 s, not repeated; ${fmtInt(t.items)} ${what}, ${fmtInt(sc.tablesInDatabase)} tables present)`
          : `  ${t.label}: ${t.ms} ms (median of ${t.runsMs.join(', ')} ms; ${fmtInt(t.items)} ${what})`);
    }
    if (sc.drift) {
      const d = sc.drift;
      out.push(d.ms === null
        ? `  ${d.label}: failed or did not finish`
        : `  ${d.label}: ${(d.ms / 1000).toFixed(1)} s over ${fmtInt(d.setsCompared)} sets, ${fmtInt(d.tablesCompared)} tables, ${fmtInt(d.items)} differences (target: under 30 s at 1,000 sets)`);
    }
    if (sc.upgrade.status !== 'ok' && sc.upgrade.note) out.push(`  upgrade: ${sc.upgrade.status}: ${sc.upgrade.note}`);
  }
  if (report.maintenance) {
    const mt = report.maintenance;
    out.push('', 'Maintenance');
    const steps = [...(mt.historyMoveByChunk ?? [mt.historyMove]), mt.rotate, mt.offload, ...(mt.offloadByHand ? [mt.offloadByHand] : [])];
    out.push(...table(['step', 'count', 'seconds', 'per second', 'rows/s'], steps.map((r) => [
      r.label, r.status === 'ok' ? `${fmtInt(r.units)} ${r.unit}` : r.status, r.status === 'ok' ? r.seconds.toFixed(2) : '-', fmtInt(r.perSecond),
      fmtInt('rowsPerSecond' in r ? (r as { rowsPerSecond: number | null }).rowsPerSecond : r.unit === 'rows' ? r.perSecond : null)])));
    for (const r of steps) if (r.note) out.push(`  ${r.label}: ${r.note}`);
    if (mt.offloadByHand) out.push(`  offload, toolkit / by hand: ${ratio(mt.offloadRatio)} (target >= 0.90x)`);
  }
  if (report.sqlrun) {
    const sr = report.sqlrun;
    out.push('', `sql run: a ${(sr.bytes / 1e6).toFixed(1)} MB dump by ${sr.dumpCommand}, ${fmtInt(sr.rows)} rows, replayed into fresh databases`);
    out.push(...table(['method', 'MB', 'seconds', 'MB/s', 'x client', 'target'], sr.results.map((r) => [
      r.label, (r.units / 1e6).toFixed(1), r.status === 'ok' ? r.seconds.toFixed(2) : r.status, r.perSecond === null ? '-' : (r.perSecond / 1e6).toFixed(1),
      r.method === 'runner' ? ratio(sr.ratio) : '', r.method === 'runner' ? (sr.ratio === null ? 'N/A' : sr.ratio >= 0.8 ? 'PASS' : 'FAIL') : ''])));
    for (const r of sr.results) if (r.note) out.push(`  ${r.label}: ${r.note}`);
  }
  if (report.restart) {
    const r = report.restart;
    out.push('', `Restart: ${fmtInt(r.messages)} messages on a ${r.server} server, ${r.workers} workers, batches of ${r.batchSize}, leases of ${r.leaseSeconds} s (the worker defaults)`);
    out.push(...table(['phase', 'messages', 'seconds', 'messages/s', 'x before', 'row reads/message', 'refused'], [r.before, r.after].map((p) => [
      p.label, fmtInt(p.units), p.seconds.toFixed(2), fmtInt(p.perSecond), p === r.after ? ratio(r.ratio) : '', String(p.rowsReadPerMessage), String(p.refusedBatches)])));
    out.push(`  ${r.note}; ${r.duplicates} duplicates, ${r.lost} lost, ${r.batchesCompletedAfterLease} batches completed after their lease`);
  }
  if (report.targets.length) {
    out.push('', 'Targets (ratios in this run)');
    for (const t of report.targets) {
      const mark = t.pass === null ? 'N/A ' : t.pass ? 'PASS' : 'FAIL';
      out.push(`  ${mark}  ${t.description}: ${t.ratio === null ? `not judged (${t.note})` : `${t.ratio.toFixed(2)}x`}`);
    }
  }
  if (report.claim || report.restart) out.push(`  ${report.correct ? 'PASS' : 'FAIL'}  every claim run completed each message exactly once (0 duplicates, 0 lost)`);
  for (const n of report.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}
