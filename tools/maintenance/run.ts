// `maintenance run`: the one entry for schedulers. History moves for every set, log rotation,
// then the verified offload, in that order; each step runs even when an earlier one failed
// (they touch different tables), and one summary says what happened and whether all went well.
import { parseUrl, withConnection } from '../sql/connection';
import { UserError } from '../errors';
import { HistoryResult, runHistoryMoves } from './history';
import { rotateLogTables, RotationResult } from './log-tables';
import { offloadRotatedLogs, OffloadResult } from './offload';

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
  offload: StepSummary<OffloadResult> & { tablesOffloaded: number; tablesFailed: number; rowsOffloaded: number };
  failures: string[];
}

function messageOf(err: unknown): string {
  const e = err as { sqlMessage?: string; message?: string };
  return e.sqlMessage ?? e.message ?? String(err);
}

export async function runMaintenance(options: RunOptions): Promise<RunSummary> {
  if (!parseUrl(options.url).database) throw new UserError('the URL must name a database');
  const started = new Date();
  const failures: string[] = [];
  const log = options.log ?? (() => undefined);

  log('maintenance run: history moves');
  const history: RunSummary['history'] = { outcome: 'ok', results: [], messagesMoved: 0, setsFailed: 0 };
  try {
    history.results = await withConnection(options.url, (conn) =>
      runHistoryMoves(conn, { olderThanDays: options.olderThanDays, chunk: options.chunk, progress: options.progress }));
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
    rotation.results = await withConnection(options.url, (conn) => rotateLogTables(conn));
  } catch (err) {
    rotation.outcome = 'failed';
    rotation.error = messageOf(err);
    failures.push(`rotate-logs: ${rotation.error}`);
  }

  const offload: RunSummary['offload'] = { outcome: 'ok', results: [], tablesOffloaded: 0, tablesFailed: 0, rowsOffloaded: 0 };
  if (!options.outDir) {
    offload.outcome = 'skipped';
    offload.error = 'no --out folder given';
  } else {
    log('maintenance run: offload');
    try {
      offload.results = await offloadRotatedLogs({ url: options.url, outDir: options.outDir, olderThanMs: options.olderThanDays * 86_400_000, log });
      const done = offload.results.filter((r) => r.outcome === 'offloaded');
      offload.tablesOffloaded = done.length;
      offload.rowsOffloaded = done.reduce((n, r) => n + r.rows, 0);
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
      : `offload: ${o.tablesOffloaded} table(s), ${o.rowsOffloaded} rows offloaded, verified and dropped${o.tablesFailed ? `, ${o.tablesFailed} FAILED (nothing of them dropped)` : ''}`);
  for (const failure of summary.failures.slice(0, 20)) lines.push(`  FAILED ${failure}`);
  if (summary.failures.length > 20) lines.push(`  ... and ${summary.failures.length - 20} more (--json lists them all)`);
  lines.push(summary.ok ? `maintenance run: OK in ${summary.seconds.toFixed(1)} s`
    : `maintenance run: FAILED (${summary.failures.length} problem(s)); first: ${summary.failures[0]}`);
  return lines;
}
