// `maintenance run`: the one entry for schedulers. History moves for every set, log rotation,
// then the verified offload (rotated log tables, then old history rows), in that order; each step runs even when an earlier one failed
// (they touch different tables), and one summary says what happened and whether all went well.
import { parseUrl, withConnection } from '../sql/connection';
import { UserError } from '../errors';
import { HistoryResult, runHistoryMoves } from './history';
import { rotateLogTables, RotationResult } from './log-tables';
import { offloadRotatedLogs, OffloadOptions, OffloadResult } from './offload';
import { offloadHistoryRows } from './history-offload';
import { recordMaintenanceStep, StepOutcome } from './runs';

export interface RunOptions {
  url: string;
  olderThanDays: number;
  chunk?: number;
  /** Where offloaded dumps go; without it the offload step is skipped (and says so). */
  outDir?: string;
  progress?: 'auto' | 'plain' | 'none';
  log?: (line: string) => void;
}

export interface StepSummary<T> {
  outcome: 'ok' | 'failed' | 'skipped';
  /** Why the step failed as a whole or was skipped. */
  error?: string;
  results: T[];
}

export interface RunSummary {
  ok: boolean;
  startedAt: string;
  seconds: number;
  olderThanDays: number;
  history: StepSummary<HistoryResult> & { messagesMoved: number; setsFailed: number };
  rotation: StepSummary<RotationResult>;
  /** tablesOffloaded/rowsOffloaded: rotated log tables (dropped); historyRowsOffloaded: history rows (deleted); tablesFailed: either. */
  offload: StepSummary<OffloadResult> & { tablesOffloaded: number; tablesFailed: number; rowsOffloaded: number; historyTablesOffloaded: number; historyRowsOffloaded: number };
  failures: string[];
}

function messageOf(err: unknown): string {
  const e = err as { sqlMessage?: string; message?: string };
  return e.sqlMessage ?? e.message ?? String(err);
}

/** The offload step: rotated log tables, then history rows; one list of results. */
export async function offloadAll(options: OffloadOptions): Promise<OffloadResult[]> {
  const results = await offloadRotatedLogs(options);
  try {
    results.push(...await offloadHistoryRows(options));
  } catch (err) {
    // A failure of the history part as a whole (its lock, the catalogue) still reports the log tables done.
    results.push({ table: '(history tables)', kind: 'history-rows', outcome: 'failed', step: 'preflight', error: messageOf(err), rows: 0 });
  }
  return results;
}

export function judgeHistory(results: HistoryResult[]): StepOutcome {
  const failed = results.filter((r) => r.outcome === 'failed');
  const moved = results.reduce((n, r) => n + r.moved.messages, 0);
  return { ok: failed.length === 0, detail: `${moved} messages moved from ${results.length} set(s)` +
    (failed.length ? `; ${failed.length} set(s) failed, first: campaign ${failed[0].campaignId}: ${failed[0].error}` : '') };
}

export function judgeRotation(results: RotationResult[]): StepOutcome {
  const rotated = results.filter((r) => r.rotatedTo);
  return { ok: true, detail: `${rotated.length} table(s) rotated, ${rotated.reduce((n, r) => n + r.rows, 0)} rows` };
}

export function judgeOffload(results: OffloadResult[]): StepOutcome {
  const failed = results.filter((r) => r.outcome === 'failed');
  const done = results.filter((r) => r.outcome === 'offloaded');
  const logs = done.filter((r) => r.kind !== 'history-rows');
  const history = done.filter((r) => r.kind === 'history-rows');
  return { ok: failed.length === 0, detail: `${logs.length} log table(s), ${logs.reduce((n, r) => n + r.rows, 0)} rows; ` +
    `${history.reduce((n, r) => n + r.rows, 0)} history rows from ${history.length} table(s)` +
    (failed.length ? `; ${failed.length} FAILED, first: ${failed[0].error}` : '') };
}

export async function runMaintenance(options: RunOptions): Promise<RunSummary> {
  if (!parseUrl(options.url).database) throw new UserError('the URL must name a database');
  return recordMaintenanceStep(options.url, 'run', () => runSteps(options),
    (s) => ({ ok: s.ok, detail: s.ok ? `ok in ${s.seconds.toFixed(1)} s` : `${s.failures.length} problem(s); first: ${s.failures[0]}` }), options.log);
}

async function runSteps(options: RunOptions): Promise<RunSummary> {
  const started = new Date();
  const failures: string[] = [];
  const log = options.log ?? (() => undefined);

  log('maintenance run: history moves');
  const history: RunSummary['history'] = { outcome: 'ok', results: [], messagesMoved: 0, setsFailed: 0 };
  try {
    history.results = await recordMaintenanceStep(options.url, 'history', () => withConnection(options.url, (conn) =>
      runHistoryMoves(conn, { olderThanDays: options.olderThanDays, chunk: options.chunk, progress: options.progress })), judgeHistory, log);
    history.messagesMoved = history.results.reduce((n, r) => n + r.moved.messages, 0);
    history.setsFailed = history.results.filter((r) => r.outcome === 'failed').length;
    for (const r of history.results.filter((x) => x.outcome === 'failed')) failures.push(`history: campaign ${r.campaignId}: ${r.error}`);
    if (history.setsFailed) history.outcome = 'failed';
  } catch (err) {
    history.outcome = 'failed';
    history.error = messageOf(err);
    failures.push(`history: ${history.error}`);
  }

  log('maintenance run: log rotation');
  const rotation: RunSummary['rotation'] = { outcome: 'ok', results: [] };
  try {
    rotation.results = await recordMaintenanceStep(options.url, 'rotate-logs', () => withConnection(options.url, (conn) => rotateLogTables(conn)), judgeRotation, log);
  } catch (err) {
    rotation.outcome = 'failed';
    rotation.error = messageOf(err);
    failures.push(`rotate-logs: ${rotation.error}`);
  }

  const offload: RunSummary['offload'] = { outcome: 'ok', results: [], tablesOffloaded: 0, tablesFailed: 0, rowsOffloaded: 0, historyTablesOffloaded: 0, historyRowsOffloaded: 0 };
  if (!options.outDir) {
    offload.outcome = 'skipped';
    offload.error = 'no --out folder given';
  } else {
    log('maintenance run: offload');
    try {
      const outDir = options.outDir;
      offload.results = await recordMaintenanceStep(options.url, 'offload',
        () => offloadAll({ url: options.url, outDir, olderThanMs: options.olderThanDays * 86_400_000, log }), judgeOffload, log);
      const done = offload.results.filter((r) => r.outcome === 'offloaded');
      const logs = done.filter((r) => r.kind !== 'history-rows');
      const history = done.filter((r) => r.kind === 'history-rows');
      offload.tablesOffloaded = logs.length;
      offload.rowsOffloaded = logs.reduce((n, r) => n + r.rows, 0);
      offload.historyTablesOffloaded = history.length;
      offload.historyRowsOffloaded = history.reduce((n, r) => n + r.rows, 0);
      offload.tablesFailed = offload.results.length - done.length;
      for (const r of offload.results.filter((x) => x.outcome === 'failed')) failures.push(`offload: ${r.error}`);
      if (offload.tablesFailed) offload.outcome = 'failed';
    } catch (err) {
      offload.outcome = 'failed';
      offload.error = messageOf(err);
      failures.push(`offload: ${offload.error}`);
    }
  }

  return {
    ok: failures.length === 0,
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    olderThanDays: options.olderThanDays,
    history, rotation, offload, failures,
  };
}

export function describeRun(summary: RunSummary): string[] {
  const lines: string[] = [];
  const h = summary.history;
  lines.push(h.error ? `history: FAILED: ${h.error}`
    : `history: ${h.results.length} set(s) looked at, ${h.messagesMoved} messages moved` +
      `${h.setsFailed ? `, ${h.setsFailed} set(s) FAILED` : ''}`);
  const r = summary.rotation;
  const rotated = r.results.filter((x) => x.rotatedTo);
  lines.push(r.error ? `rotate-logs: FAILED: ${r.error}`
    : `rotate-logs: ${rotated.length} table(s) rotated${rotated.length ? ` (${rotated.map((x) => `${x.table} -> ${x.rotatedTo}, ${x.rows} rows`).join('; ')})` : ''}`);
  const o = summary.offload;
  lines.push(o.outcome === 'skipped' ? `offload: skipped (${o.error})`
    : o.error ? `offload: FAILED: ${o.error}`
      : `offload: ${o.tablesOffloaded} table(s), ${o.rowsOffloaded} rows offloaded, verified and dropped; ` +
        `${o.historyRowsOffloaded} history rows from ${o.historyTablesOffloaded} table(s) offloaded, verified and deleted` +
        `${o.tablesFailed ? `, ${o.tablesFailed} FAILED (nothing of them dropped or deleted)` : ''}`);
  for (const failure of summary.failures.slice(0, 20)) lines.push(`  FAILED ${failure}`);
  if (summary.failures.length > 20) lines.push(`  ... and ${summary.failures.length - 20} more (--json lists them all)`);
  lines.push(summary.ok ? `maintenance run: OK in ${summary.seconds.toFixed(1)} s`
    : `maintenance run: FAILED (${summary.failures.length} problem(s)); first: ${summary.failures[0]}`);
  return lines;
}
