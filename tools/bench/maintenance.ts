// Maintenance rates, measured through the maintenance module itself:
//   history move   finished messages moved to the history twins by runHistoryMoves() (skipped,
//                  with a note, where tools/maintenance/history.ts is not there)
//   rotate         rotateLogTables(): each non-empty log table swapped for an empty copy
//   offload        offloadRotatedLogs(): dump through the server's dump tool to .sql.gz, restore
//                  into a scratch database and compare checksums, then drop: rows/s and MB/s
// The log rows are made up (not timed) with logged_at days in the past, so the rotated table is
// old enough to offload at once.
import fs from 'fs';
import path from 'path';
import { rotateLogTables } from '../maintenance/log-tables';
import { offloadRotatedLogs } from '../maintenance/offload';
import { campaignTableName } from '../campaigns/sets';
import { ProgressOptions, startProgress } from '../progress';
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { BenchContext, elapsed, fmtInt, freshCampaign, MESSAGE_COLUMNS, messageAt, now } from './context';
import { MaintenanceSection, rate, RateResult } from './types';

export interface MaintenanceOptions {
  /** Finished messages to move to history, and log rows to rotate and offload. */
  rows: number;
}

/** What the bench uses of tools/maintenance/history.ts (loaded at run time: it may not be there yet). */
interface HistoryModule {
  runHistoryMoves(conn: Connection, options: { campaignIds?: number[]; olderThanDays: number; chunk?: number; progress?: ProgressOptions['mode'] }):
    Promise<{ outcome: string; error?: string; moved: { chunks: number; messages: number; messageContactStatus: number; statusUpdates: number; interactions: number; readyQueue: number } }[]>;
}

function historyModule(): HistoryModule | string {
  const file = path.join(__dirname, '..', 'maintenance', 'history');
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const mod = require(file) as Partial<HistoryModule>;
    if (typeof mod.runHistoryMoves === 'function') return mod as HistoryModule;
    return 'tools/maintenance/history has no runHistoryMoves()';
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('maintenance/history')
      ? 'tools/maintenance has no history move yet'
      : `tools/maintenance/history could not be loaded: ${e.message.split('\n')[0]}`;
  }
}

/**
 * The history move on `rows` finished messages of a fresh campaign: each with a final current
 * status (delivered, two days ago) and two status updates (sent, delivered), no queue entry. The
 * set-up is plain SQL (not timed); the move is runHistoryMoves(), as `maintenance history` runs it.
 */
async function historyMove(ctx: BenchContext, rows: number): Promise<RateResult> {
  const mod = historyModule();
  if (typeof mod === 'string') return skipped('history-move', 'history move', 'messages', `not measured: ${mod}`);
  const { campaignId, messages } = await freshCampaign(ctx, 'history move');
  const emailId = ctx.methods.get('email')!;
  for (let i = 0; i < rows; i += 5000) {
    const batch = Array.from({ length: Math.min(5000, rows - i) }, (_, k) => messageAt(i + k, ctx.contactIds, emailId, false));
    await ctx.conn.query(`INSERT INTO ${quoteIdentifier(messages)} (${MESSAGE_COLUMNS.join(', ')}) VALUES ?`, [batch]);
  }
  await ctx.conn.query('CALL mark_packet_ready(?, ?, 1)', [ctx.adminUserId, campaignId]);
  const status = new Map((await queryRows<{ id: number; code: string }>(ctx.conn, 'SELECT id, code FROM contact_statuses')).map((r) => [r.code, Number(r.id)]));
  const mcs = quoteIdentifier(await campaignTableName(ctx.conn, campaignId, 'message_contact_status'));
  const updates = quoteIdentifier(await campaignTableName(ctx.conn, campaignId, 'status_updates'));
  const queue = quoteIdentifier(await campaignTableName(ctx.conn, campaignId, 'ready_queue'));
  await ctx.conn.query(`UPDATE ${mcs} SET status_id = ?, updated_at = NOW(3) - INTERVAL 2 DAY`, [status.get('delivered')]);
  await ctx.conn.query(`DELETE FROM ${queue}`);
  for (const [code, hours] of [['sent', 50], ['delivered', 48]] as const) {
    await ctx.conn.query(`INSERT INTO ${updates} (message_id, method_id, status_id, created_at)
      SELECT id, method_id, ?, NOW(3) - INTERVAL ? HOUR FROM ${quoteIdentifier(messages)}`, [status.get(code), hours]);
  }
  ctx.log(`maintenance: ${fmtInt(rows)} finished messages (1 status row and 2 status updates each) ready to move`);
  const t0 = now();
  const [result] = await mod.runHistoryMoves(ctx.conn, { campaignIds: [campaignId], olderThanDays: 1, chunk: 1000, progress: ctx.progress });
  const seconds = elapsed(t0);
  await ctx.conn.query('CALL campaign_set_drop(?)', [campaignId]).catch(() => undefined);
  if (!result || result.outcome !== 'moved' || result.moved.messages !== rows) {
    return { method: 'history-move', label: 'history move (runHistoryMoves, chunks of 1,000)', status: 'failed', units: result?.moved.messages ?? 0, unit: 'messages',
      seconds, perSecond: null, note: `${result?.outcome ?? 'no result'}: moved ${result?.moved.messages ?? 0} of ${rows}${result?.error ? `: ${result.error}` : ''}` };
  }
  const m = result.moved;
  const allRows = m.messages + m.messageContactStatus + m.statusUpdates + m.interactions;
  return {
    method: 'history-move', label: 'history move (runHistoryMoves, chunks of 1,000)', status: 'ok', units: m.messages, unit: 'messages', seconds,
    perSecond: rate(m.messages, seconds),
    note: `${fmtInt(m.messages)} messages with ${fmtInt(m.messageContactStatus)} status rows and ${fmtInt(m.statusUpdates)} status updates ` +
      `(${fmtInt(rate(allRows, seconds))} rows/s in all) in ${m.chunks} transactions`,
  };
}

function skipped(method: string, label: string, unit: string, note: string): RateResult {
  return { method, label, status: 'skipped', units: 0, unit, seconds: 0, perSecond: null, note };
}

export async function runMaintenanceSection(ctx: BenchContext, options: MaintenanceOptions): Promise<MaintenanceSection> {
  let history: RateResult;
  try {
    history = await historyMove(ctx, options.rows);
  } catch (err) {
    history = { method: 'history-move', label: 'history move', status: 'failed', units: 0, unit: 'messages', seconds: 0, perSecond: null, note: (err as Error).message.split('\n')[0] };
  }
  ctx.log(`maintenance: history move: ${history.status === 'ok' ? `${fmtInt(history.perSecond)} messages/s (${history.seconds.toFixed(1)} s), ${history.note}` : `${history.status}: ${history.note}`}`);

  // Log rows spread over a week that ended three days ago.
  const end = Date.now() - 3 * 86_400_000;
  const span = 7 * 86_400_000;
  const progress = startProgress({ label: 'maintenance: writing log rows', total: options.rows, unit: 'rows', mode: ctx.progress });
  for (let i = 0; i < options.rows; i += 5000) {
    const n = Math.min(5000, options.rows - i);
    const rows = Array.from({ length: n }, (_, k) => {
      const j = i + k;
      return [new Date(end - span + Math.floor((span * j) / options.rows)), j % 50 ? 'info' : 'warn', 'bench', null,
        `batch ${j} completed by bench-${j % 16}`, JSON.stringify({ batch: j, messages: 100, ms: 40 + (j % 17) })];
    });
    await ctx.conn.query('INSERT INTO log_events (logged_at, level, source, campaign_id, message, detail) VALUES ?', [rows]);
    progress.advance(n);
  }
  progress.finish();

  const t0 = now();
  const rotated = await rotateLogTables(ctx.conn);
  const rotateSeconds = elapsed(t0);
  const rotatedRows = rotated.reduce((s, r) => s + r.rows, 0);
  const rotate: RateResult = {
    // A rename takes the same time whatever the row count: rows/s would mean nothing.
    method: 'rotate-logs', label: 'rotate log tables (one RENAME TABLE each)', status: 'ok', units: rotatedRows, unit: 'rows', seconds: rotateSeconds,
    perSecond: null, note: `${rotated.filter((r) => r.rotatedTo).length} table(s) rotated in ${(rotateSeconds * 1000).toFixed(0)} ms: a rename, whatever the row count`,
  };
  ctx.log(`maintenance: ${rotate.note}`);

  const outDir = path.join(ctx.workDir, 'offload');
  const t1 = now();
  const results = await offloadRotatedLogs({ url: ctx.url, outDir, olderThanMs: 86_400_000, log: (line) => ctx.log(`maintenance: ${line}`) });
  const offloadSeconds = elapsed(t1);
  const ok = results.filter((r) => r.outcome === 'offloaded');
  const failed = results.filter((r) => r.outcome === 'failed');
  const rows = ok.reduce((s, r) => s + r.rows, 0);
  const bytes = ok.reduce((s, r) => s + (r.file && fs.existsSync(r.file) ? fs.statSync(r.file).size : 0), 0);
  const offload = {
    method: 'offload-logs', label: 'offload rotated logs (dump, verify by restore, drop)', status: (failed.length || !ok.length ? 'failed' : 'ok') as RateResult['status'],
    units: rows, unit: 'rows', seconds: offloadSeconds, perSecond: ok.length ? rate(rows, offloadSeconds) : null, bytes: ok.length ? bytes : null, tables: ok.length,
    note: failed.length ? `${failed[0].table}: ${failed[0].step}: ${failed[0].error}`
      : ok.length ? `${ok.length} table(s), ${(bytes / 1048576).toFixed(1)} MB of .sql.gz, ${(bytes / 1048576 / offloadSeconds).toFixed(1)} MB/s`
        : 'nothing was due for offload',
  };
  ctx.log(`maintenance: offload ${offload.status === 'ok' ? `${fmtInt(offload.perSecond)} rows/s (${offloadSeconds.toFixed(1)} s), ${offload.note}` : `${offload.status}: ${offload.note}`}`);
  return { historyMove: history, rotate, offload };
}
