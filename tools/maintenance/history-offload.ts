// Verified offload of old history rows: for each *_history table of every active campaign set and
// batches_history, the rows moved to history more than N days ago are dumped, the dump is verified
// by restoring it into the scratch schema <db>_verify, and only then are exactly those rows deleted, in
// chunks. Any failing step deletes nothing and names the table and the step.
//
// Which rows: `moved_at < cutoff`. moved_at is when a row entered history (every history table
// has it, filled by its default when history_move copies the row), so "older than 30 days" means
// "in history for 30 days", whatever the message's own dates. The cutoff is one instant, taken from
// the server's clock and written in the manifest; history tables are insert-only and a row moved
// while the dump runs gets moved_at = now, far after the cutoff. So the rows matching the cutoff
// cannot change between checksum, dump, verification and delete: what is deleted is what was
// verified.
//
// Reruns: a dump whose rows are not all deleted yet stays "pending" (no <base>.deleted.json marker
// beside its manifest; manifests are sealed and never rewritten, see manifest-seal.ts). The next run finds it in the output folder and finishes it with the same cutoff
// instead of dumping the rows again: rows all still there -> verify again, delete; some gone (a
// run killed mid-delete: the rows left are a subset of the verified dump, since nothing else adds
// rows before the cutoff) -> verify again, delete the rest; none left -> mark it done. Only then
// does it offload the rows that have aged since. A dump killed before its manifest was written is
// simply made again under the new cutoff's name (its .partial file, or the published dump no
// manifest vouches for, is removed: its rows were not deleted).
import fs from 'fs';
import path from 'path';
import { Connection, parseUrl, queryRows, quoteIdentifier, withConnection } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { UserError } from '../errors';
import { tableChecksum } from './checksum';
import { dumpTableRows } from './dump';
import { createManifest, Manifest, OffloadOptions, OffloadResult, OffloadStepError, readManifest, step } from './offload';
import { manifestSideFile, readSealedManifest } from './manifest-seal';
import { ensureWritableFolder, pauseIfAsked, requireTool, verifyDumpFile } from './verified-dump';

/** The column that dates a history row. */
export const HISTORY_TIME_COLUMN = 'moved_at';
/** Rows deleted per transaction once a dump is verified. */
export const DELETE_CHUNK = 5000;
/** The history table outside campaign sets. */
const GLOBAL_HISTORY_TABLES = ['batches_history'];

export interface HistoryManifest extends Manifest {
  kind: 'history-rows';
  /** The rows dumped: `moved_at < cutoff` (server time, as the column holds it). */
  cutoff: string;
  where: string;
  /** Set by earlier versions once every row was deleted; now the <base>.deleted.json marker says so. */
  deletedAt?: string;
}

/** The marker written (create-exclusive) once every row of a history dump is deleted from its table. */
export function deletedMarkerFile(manifestFile: string): string {
  return manifestFile.replace(/\.manifest\.json$/, '.deleted.json');
}

function markDeleted(manifestFile: string): void {
  const marker = deletedMarkerFile(manifestFile);
  if (!fs.existsSync(marker)) fs.writeFileSync(marker, JSON.stringify({ deletedAt: new Date().toISOString() }) + '\n', { flag: 'wx' });
}

const CUTOFF_FORMAT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3,6}$/;

export function historyWhere(cutoff: string): string {
  if (!CUTOFF_FORMAT.test(cutoff)) throw new Error(`bad cutoff "${cutoff}"`);
  return `${HISTORY_TIME_COLUMN} < '${cutoff}'`;
}

/** The rows of a history dump as they lie in a table after a restore (range.from is the oldest row dumped). */
export function restoredRangeWhere(manifest: HistoryManifest): string {
  const from = manifest.range?.from;
  if (!from || !CUTOFF_FORMAT.test(from)) return historyWhere(manifest.cutoff);
  return `${HISTORY_TIME_COLUMN} >= '${from}' AND ${historyWhere(manifest.cutoff)}`;
}

/** <table>.upto-<cutoff digits>: one dump per table and cutoff. */
export function historyDumpBase(table: string, cutoff: string): string {
  return `${table}.upto-${cutoff.replace(/[^0-9]/g, '').replace(/^(\d{8})/, '$1T')}`;
}

/** Every history table to look at: the *_history kinds of every active set (named by campaign_table_name) and batches_history. */
export async function historyTables(conn: Connection): Promise<string[]> {
  const campaignModel = (await queryRows(conn,
    "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'campaign_sets'")).length > 0;
  // A database without the campaign model (a bare test database) has only the global tables to look at.
  const names = campaignModel ? await queryRows<{ name: string }>(conn,
    `SELECT campaign_table_name(s.campaign_id, k.kind) AS name
       FROM campaign_sets s CROSS JOIN campaign_table_kinds k
      WHERE s.state = 'active' AND k.kind LIKE '%\\_history' ORDER BY s.campaign_id, k.kind`) : [];
  const withTime = new Set((await queryRows<{ name: string }>(conn,
    `SELECT TABLE_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = ?`,
    [HISTORY_TIME_COLUMN])).map((r) => r.name));
  return [...names.map((n) => n.name), ...GLOBAL_HISTORY_TABLES].filter((t) => withTime.has(t));
}

function pendingManifest(outDir: string, database: string, table: string): { manifest: HistoryManifest; file: string; manifestFile: string } | null {
  if (!fs.existsSync(outDir)) return null;
  const prefix = `${table}.upto-`;
  const candidates = fs.readdirSync(outDir).filter((f) => f.startsWith(prefix) && f.endsWith('.manifest.json')).sort();
  for (const name of candidates) {
    const manifestFile = path.join(outDir, name);
    const manifest = readManifest<HistoryManifest>(manifestFile);
    if (!manifest || manifest.kind !== 'history-rows' || manifest.table !== table || manifest.database !== database || manifest.deletedAt) continue;
    if (fs.existsSync(deletedMarkerFile(manifestFile))) continue;
    // A pending dump is finished from its manifest, so the manifest must be the one written.
    readSealedManifest(manifestFile);
    return { manifest, file: path.join(outDir, manifest.file), manifestFile };
  }
  return null;
}

async function primaryKey(conn: Connection, table: string): Promise<string[]> {
  const rows = await queryRows<{ c: string }>(conn,
    `SELECT COLUMN_NAME AS c FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, [table]);
  if (!rows.length) throw new Error(`${table} has no primary key: its rows cannot be restored idempotently`);
  return rows.map((r) => r.c);
}

/** Deletes the rows matching `where`, one chunk per transaction, in primary key order. */
async function deleteInChunks(conn: Connection, table: string, where: string, chunk: number): Promise<number> {
  const order = (await primaryKey(conn, table)).map(quoteIdentifier).join(', ');
  let deleted = 0;
  for (;;) {
    const [result] = await conn.query(`DELETE FROM ${quoteIdentifier(table)} WHERE ${where} ORDER BY ${order} LIMIT ${Math.floor(chunk)}`);
    const n = Number((result as { affectedRows: number }).affectedRows);
    deleted += n;
    if (n < chunk) return deleted;
    await pauseIfAsked('delete');
  }
}

async function offloadHistoryTable(conn: Connection, server: ServerInfo, url: string, database: string, table: string,
  outDir: string, freshCutoff: string, deleteChunk: number): Promise<OffloadResult | null> {
  const pending = pendingManifest(outDir, database, table);
  const cutoff = pending?.manifest.cutoff ?? freshCutoff;
  const where = historyWhere(cutoff);
  if (!pending) {
    const due = await step(table, 'checksum', () => queryRows(conn, `SELECT 1 FROM ${quoteIdentifier(table)} WHERE ${where} LIMIT 1`));
    if (!due.length) return null;
  }
  const tool = await step(table, 'preflight', async () => {
    ensureWritableFolder(outDir);
    // A dump killed before it was complete left only its .partial file: nothing refers to it. A dump
    // published by a run killed before its manifest is vouched for by nothing, and its rows were not
    // deleted (that needs the manifest): it goes too, so that no file without manifest lingers.
    const names = fs.readdirSync(outDir).filter((n) => n.startsWith(`${table}.upto-`));
    for (const f of names.filter((n) => n.endsWith('.partial'))) fs.rmSync(path.join(outDir, f), { force: true });
    for (const f of names.filter((n) => n.endsWith('.sql.gz') && !names.includes(n.replace(/\.sql\.gz$/, '.manifest.json')))) {
      fs.rmSync(path.join(outDir, f));
      fs.rmSync(manifestSideFile(path.join(outDir, f.replace(/\.sql\.gz$/, '.manifest.json'))), { force: true });
    }
    return requireTool(server.dumpCommand);
  });
  const source = await step(table, 'checksum', () => tableChecksum(conn, database, table, `WHERE ${where}`));

  let manifest: HistoryManifest;
  let file: string;
  let manifestFile: string;
  let partlyDeleted = false;
  if (pending) {
    ({ manifest, file, manifestFile } = pending);
    if (source.rows === 0) {
      // Killed after the last delete, before the manifest said so.
      await step(table, 'manifest', () => markDeleted(manifestFile));
      return { table, kind: 'history-rows', outcome: 'offloaded', rows: manifest.rows, file };
    }
    const whole = source.rows === manifest.rows && source.checksum === manifest.checksum;
    if (!whole && source.rows >= manifest.rows) {
      throw new OffloadStepError(table, 'checksum', `the rows before ${cutoff} (${source.rows}) differ from those of the unfinished dump ` +
        `${manifest.file} (${manifest.rows}); nothing deleted (were rows restored into the table?)`);
    }
    partlyDeleted = !whole;
  } else {
    if (source.rows === 0) return null;
    const base = historyDumpBase(table, cutoff);
    file = path.join(outDir, `${base}.sql.gz`);
    manifestFile = path.join(outDir, `${base}.manifest.json`);
    const [createRow] = await step(table, 'dump', () => queryRows<Record<string, string>>(conn, `SHOW CREATE TABLE ${quoteIdentifier(table)}`));
    const [range] = await step(table, 'checksum', () => queryRows<{ first: string }>(conn,
      `SELECT DATE_FORMAT(MIN(${HISTORY_TIME_COLUMN}), '%Y-%m-%d %H:%i:%s.%f') AS first FROM ${quoteIdentifier(table)} WHERE ${where}`));
    const outFile = file;
    const sha256 = await step(table, 'dump', () => dumpTableRows(server, url, database, table, createRow['Create Table'], where, outFile,
      { exclusive: true, onStarted: () => pauseIfAsked('dump') }));
    manifest = {
      format: 1, kind: 'history-rows', database, table, rows: source.rows, checksum: source.checksum, file: path.basename(file), sha256,
      cutoff, where, range: { from: range.first, to: cutoff }, server: server.versionComment, tool, createdAt: new Date().toISOString(),
    } as HistoryManifest;
    const written = manifest;
    const writtenFile = manifestFile;
    await step(table, 'manifest', () => createManifest(writtenFile, written));
  }
  const verified = manifest;
  const verifiedFile = file;
  await step(table, 'verify', () => verifyDumpFile(server, url, verifiedFile, verified.sha256,
    [{ table, rows: verified.rows, checksum: verified.checksum }], { afterRestore: () => pauseIfAsked('verify') }));
  await pauseIfAsked('drop');
  await step(table, 'delete', async () => {
    if (!partlyDeleted) {
      const now = await tableChecksum(conn, database, table, `WHERE ${where}`);
      if (now.rows !== verified.rows || now.checksum !== verified.checksum) throw new Error(`the rows before ${cutoff} changed after they were dumped; nothing deleted`);
    }
    await deleteInChunks(conn, table, where, deleteChunk);
    const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${quoteIdentifier(table)} WHERE ${where}`);
    if (Number(n) !== 0) throw new Error(`${n} rows before ${cutoff} are still there after the delete`);
    markDeleted(manifestFile);
  });
  return { table, kind: 'history-rows', outcome: 'offloaded', rows: verified.rows, file };
}

/**
 * Offloads every history table's rows older than the age (see the header). Only one offload runs
 * per database at a time (a server lock): two would dump the same rows.
 */
export async function offloadHistoryRows(options: OffloadOptions): Promise<OffloadResult[]> {
  const database = parseUrl(options.url).database;
  if (!database) throw new UserError('the URL must name a database');
  return withConnection(options.url, async (conn) => {
    const server = await detectServer(conn);
    const lock = `reminderly_db.offload.${database}`.slice(0, 64);
    const [{ got }] = await queryRows<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, 10) AS got', [lock]);
    if (Number(got) !== 1) throw new Error(`another offload of ${database} is running (lock ${lock} busy for 10 s)`);
    try {
      const [{ cutoff }] = await queryRows<{ cutoff: string }>(conn,
        "SELECT DATE_FORMAT(NOW(3) - INTERVAL ? MICROSECOND, '%Y-%m-%d %H:%i:%s.%f') AS cutoff", [Math.round(options.olderThanMs) * 1000]);
      const results: OffloadResult[] = [];
      for (const table of await historyTables(conn)) {
        try {
          const result = await offloadHistoryTable(conn, server, options.url, database, table, options.outDir, cutoff, options.deleteChunk ?? DELETE_CHUNK);
          if (result) {
            options.log?.(`${table}: ${result.rows} history rows offloaded`);
            results.push(result);
          }
        } catch (err) {
          const e = err as OffloadStepError;
          results.push({ table, kind: 'history-rows', outcome: 'failed', step: e.step ?? 'preflight', error: e.message, rows: 0 });
        }
      }
      return results;
    } finally {
      await conn.query('DO RELEASE_LOCK(?)', [lock]).catch(() => undefined);
    }
  });
}

/** How one offload result reads in the CLI's output. */
export function describeOffloadResult(r: OffloadResult): string {
  if (r.outcome === 'failed') return r.error?.startsWith(`${r.table}: `) ? `FAILED ${r.error}` : `${r.table}: FAILED at ${r.step}: ${r.error}`;
  return r.kind === 'history-rows'
    ? `${r.table}: ${r.rows} history rows offloaded to ${r.file}, verified, deleted`
    : `${r.table}: ${r.rows} rows offloaded to ${r.file}, verified, dropped`;
}
