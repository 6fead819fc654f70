// Maintenance rates, measured through the maintenance module itself:
//   history move   finished messages moved to the history twins by runHistoryMoves() (skipped,
//                  with a note, where tools/maintenance/history.ts is not there)
//   rotate         rotateLogTables(): each non-empty log table swapped for an empty copy
//   offload        offloadRotatedLogs(): dump through the server's dump tool to .sql.gz, restore
//                  into a scratch database and compare checksums, then drop: rows/s and MB/s, each
//                  step timed; and in the same run the same chain by hand on a copy of the rows
//                  (dump tool | gzip > f; gunzip < f | client; count + checksum; drop), with the ratio
// The log rows are made up (not timed) with logged_at days in the past, so the rotated table is
// old enough to offload at once.
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { rotateLogTables } from '../maintenance/log-tables';
import { offloadRotatedLogs } from '../maintenance/offload';
import { tableChecksum } from '../maintenance/checksum';
import { connectionArgs } from '../maintenance/dump';
import { campaignTableName } from '../campaigns/sets';
import { ProgressOptions, startProgress } from '../progress';
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { BenchContext, elapsed, fmtInt, freshCampaign, MESSAGE_COLUMNS, messageAt, now } from './context';
import { MaintenanceSection, rate, RateResult } from './types';

export interface MaintenanceOptions {
  /** Finished messages to move to history (for each chunk size). */
  rows: number;
  /** Log rows to rotate and offload (the published figures in tools/bench/README.md are for 1,000,000). */
  offloadRows: number;
}

/** The chunk sizes the history move is measured with: the default (1,000), a tenth and ten times it. */
export const HISTORY_CHUNKS = [100, 1000, 10_000];

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
async function historyMove(ctx: BenchContext, rows: number, chunk: number): Promise<MaintenanceSection['historyMoveByChunk'][number]> {
  const mod = historyModule();
  if (typeof mod === 'string') return { ...skipped('history-move', 'history move', 'messages', `not measured: ${mod}`), chunk, rowsMoved: 0, rowsPerSecond: null };
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
  const [result] = await mod.runHistoryMoves(ctx.conn, { campaignIds: [campaignId], olderThanDays: 1, chunk, progress: ctx.progress });
  const seconds = elapsed(t0);
  await ctx.conn.query('CALL campaign_set_drop(?)', [campaignId]).catch(() => undefined);
  const label = `history move (runHistoryMoves, chunks of ${fmtInt(chunk)})`;
  if (!result || result.outcome !== 'moved' || result.moved.messages !== rows) {
    return { method: `history-move-${chunk}`, label, status: 'failed', units: result?.moved.messages ?? 0, unit: 'messages', chunk, rowsMoved: 0, rowsPerSecond: null,
      seconds, perSecond: null, note: `${result?.outcome ?? 'no result'}: moved ${result?.moved.messages ?? 0} of ${rows}${result?.error ? `: ${result.error}` : ''}` };
  }
  const m = result.moved;
  const allRows = m.messages + m.messageContactStatus + m.statusUpdates + m.interactions;
  return {
    method: `history-move-${chunk}`, label, status: 'ok', units: m.messages, unit: 'messages', seconds, chunk, rowsMoved: allRows, rowsPerSecond: rate(allRows, seconds),
    perSecond: rate(m.messages, seconds),
    note: `${fmtInt(m.messages)} messages with ${fmtInt(m.messageContactStatus)} status rows and ${fmtInt(m.statusUpdates)} status updates ` +
      `(${fmtInt(rate(allRows, seconds))} rows/s in all) in ${m.chunks} transactions`,
  };
}

function skipped(method: string, label: string, unit: string, note: string): RateResult {
  return { method, label, status: 'skipped', units: 0, unit, seconds: 0, perSecond: null, note };
}

export async function runMaintenanceSection(ctx: BenchContext, options: MaintenanceOptions): Promise<MaintenanceSection> {
  const byChunk: MaintenanceSection['historyMoveByChunk'] = [];
  for (const chunk of HISTORY_CHUNKS) {
    let result: MaintenanceSection['historyMoveByChunk'][number];
    try {
      result = await historyMove(ctx, options.rows, chunk);
    } catch (err) {
      result = { method: `history-move-${chunk}`, label: `history move, chunks of ${fmtInt(chunk)}`, status: 'failed', units: 0, unit: 'messages', seconds: 0,
        perSecond: null, chunk, rowsMoved: 0, rowsPerSecond: null, note: (err as Error).message.split('\n')[0] };
    }
    ctx.log(`maintenance: ${result.label}: ${result.status === 'ok' ? `${fmtInt(result.perSecond)} messages/s, ${fmtInt(result.rowsPerSecond)} rows/s (${result.seconds.toFixed(1)} s), ${result.note}` : `${result.status}: ${result.note}`}`);
    byChunk.push(result);
  }
  const history = byChunk.find((r) => r.chunk === 1000)!;

  // Log rows spread over a week that ended three days ago.
  const rows = options.offloadRows;
  const end = Date.now() - 3 * 86_400_000;
  const span = 7 * 86_400_000;
  const progress = startProgress({ label: 'maintenance: writing log rows', total: rows, unit: 'rows', mode: ctx.progress });
  for (let i = 0; i < rows; i += 5000) {
    const n = Math.min(5000, rows - i);
    const values = Array.from({ length: n }, (_, k) => {
      const j = i + k;
      return [new Date(end - span + Math.floor((span * j) / rows)), j % 50 ? 'info' : 'warn', 'bench', null,
        `batch ${j} completed by bench-${j % 16}`, JSON.stringify({ batch: j, messages: 100, ms: 40 + (j % 17) })];
    });
    await ctx.conn.query('INSERT INTO log_events (logged_at, level, source, campaign_id, message, detail) VALUES ?', [values]);
    progress.advance(n);
  }
  progress.finish();

  const t0 = now();
  const rotated = await rotateLogTables(ctx.conn);
  const rotateSeconds = elapsed(t0);
  const rotatedRows = rotated.reduce((sum, r) => sum + r.rows, 0);
  const rotate: RateResult = {
    // A rename takes the same time whatever the row count: rows/s would mean nothing.
    method: 'rotate-logs', label: 'rotate log tables (one RENAME TABLE each)', status: 'ok', units: rotatedRows, unit: 'rows', seconds: rotateSeconds,
    perSecond: null, note: `${rotated.filter((r) => r.rotatedTo).length} table(s) rotated in ${(rotateSeconds * 1000).toFixed(0)} ms: a rename, whatever the row count`,
  };
  ctx.log(`maintenance: ${rotate.note}`);

  // The by-hand chain works on a copy of the rotated rows (not a log_ table, so the toolkit leaves it alone).
  const rotatedTable = rotated.find((r) => r.rotatedTo)?.rotatedTo;
  let byHand: MaintenanceSection['offloadByHand'] = { ...skipped('offload-by-hand', 'the same chain by hand', 'rows', 'no rotated table'), steps: {} };
  if (rotatedTable) {
    await ctx.conn.query(`CREATE TABLE bench_hand_offload LIKE ${quoteIdentifier(rotatedTable)}`);
    await ctx.conn.query(`INSERT INTO bench_hand_offload SELECT * FROM ${quoteIdentifier(rotatedTable)}`);
    byHand = await offloadByHand(ctx, 'bench_hand_offload');
    ctx.log(`maintenance: by hand: ${byHand.status === 'ok' ? `${fmtInt(byHand.perSecond)} rows/s (${byHand.seconds.toFixed(1)} s); ${describeSteps(byHand.steps)}` : `${byHand.status}: ${byHand.note}`}`);
  }

  const outDir = path.join(ctx.workDir, 'offload');
  const timings: Record<string, number> = {};
  const t1 = now();
  const results = await offloadRotatedLogs({ url: ctx.url, outDir, olderThanMs: 86_400_000, timings, log: (line) => ctx.log(`maintenance: ${line}`) });
  const offloadSeconds = elapsed(t1);
  const ok = results.filter((r) => r.outcome === 'offloaded');
  const failed = results.filter((r) => r.outcome === 'failed');
  const offloaded = ok.reduce((sum, r) => sum + r.rows, 0);
  const bytes = ok.reduce((sum, r) => sum + (r.file && fs.existsSync(r.file) ? fs.statSync(r.file).size : 0), 0);
  const offload = {
    method: 'offload-logs', label: 'offload rotated logs (dump, verify by restore, drop)', status: (failed.length || !ok.length ? 'failed' : 'ok') as RateResult['status'],
    units: offloaded, unit: 'rows', seconds: offloadSeconds, perSecond: ok.length ? rate(offloaded, offloadSeconds) : null, bytes: ok.length ? bytes : null, tables: ok.length,
    note: failed.length ? `${failed[0].table}: ${failed[0].step}: ${failed[0].error}`
      : ok.length ? `${ok.length} table(s), ${(bytes / 1048576).toFixed(1)} MB of .sql.gz, ${(bytes / 1048576 / offloadSeconds).toFixed(1)} MB/s; ${describeSteps(timings)}`
        : 'nothing was due for offload',
  };
  ctx.log(`maintenance: offload ${offload.status === 'ok' ? `${fmtInt(offload.perSecond)} rows/s (${offloadSeconds.toFixed(1)} s), ${offload.note}` : `${offload.status}: ${offload.note}`}`);
  const offloadRatio = offload.perSecond && byHand.perSecond ? Number((offload.perSecond / byHand.perSecond).toFixed(3)) : null;
  return { historyMove: history, historyMoveByChunk: byChunk, rotate, offload, offloadByHand: byHand, offloadSteps: timings, offloadRatio };
}

function describeSteps(steps: Record<string, number>): string {
  return Object.entries(steps).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
}

/** Runs a shell pipeline as a DBA would type it; the password goes through the environment. */
async function shell(command: string, env: NodeJS.ProcessEnv): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command.split(' ')[0]} ... exited with ${code}: ${stderr.trim().slice(-300)}`))));
  });
}

/**
 * The reference chain, by hand: `dump db table | gzip > f`; a second database; `gunzip < f |
 * client db2`; row count and the same row checksum on both sides; drop the table and db2. Each
 * step is timed; the rate is rows over the whole chain.
 */
async function offloadByHand(ctx: BenchContext, table: string): Promise<MaintenanceSection['offloadByHand']> {
  const { args, env } = connectionArgs(ctx.url);
  const conn = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const file = path.join(ctx.workDir, `${table}.sql.gz`);
  const second = `${ctx.database}_hand`.slice(0, 64);
  const steps: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = now();
    try {
      return await fn();
    } finally {
      steps[name] = elapsed(t);
    }
  };
  const t0 = now();
  try {
    const dumpOptions = ctx.server.dumpOptions.join(' ');
    await timed('dump | gzip', () => shell(`${ctx.server.dumpCommand} ${conn} --single-transaction ${dumpOptions} ${ctx.database} ${table} | gzip > '${file}'`, env));
    await ctx.conn.query(`CREATE DATABASE ${quoteIdentifier(second)}`);
    await timed('gunzip | client', () => shell(`gunzip < '${file}' | ${ctx.server.clientCommand} ${conn} ${second}`, env));
    const [source, copy] = await timed('count + checksum', async () => [
      await tableChecksum(ctx.conn, ctx.database, table), await tableChecksum(ctx.conn, second, table)]);
    if (source.rows !== copy.rows || source.checksum !== copy.checksum) throw new Error(`the restored copy differs: ${copy.rows} rows, source ${source.rows}`);
    await timed('drop', () => ctx.conn.query(`DROP TABLE ${quoteIdentifier(table)}`));
    const seconds = elapsed(t0);
    return { method: 'offload-by-hand', label: `by hand: ${ctx.server.dumpCommand} | gzip, gunzip | ${ctx.server.clientCommand}, count + checksum, drop`, status: 'ok',
      units: source.rows, unit: 'rows', seconds, perSecond: rate(source.rows, seconds), steps, note: `${(fs.statSync(file).size / 1048576).toFixed(1)} MB; ${describeSteps(steps)}` };
  } catch (err) {
    return { ...skipped('offload-by-hand', 'the same chain by hand', 'rows', (err as Error).message.split('\n')[0]), status: 'failed', steps };
  } finally {
    await ctx.conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(second)}`).catch(() => undefined);
    await ctx.conn.query(`DROP TABLE IF EXISTS ${quoteIdentifier(table)}`).catch(() => undefined);
    fs.rmSync(file, { force: true });
  }
}
