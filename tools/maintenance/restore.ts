// `maintenance restore`: an offloaded artefact (a rotated log table, history rows, a retired
// campaign set) or every artefact of a day goes back into the live database, after its sealed
// manifest is proven and the dump is verified in a scratch database; a mismatch changes nothing.
// It reads what offload.ts and history-offload.ts write; neither depends on it.
import fs from 'fs';
import path from 'path';
import { Connection, parseUrl, queryRows, quoteIdentifier, withConnection } from '../sql/connection';
import { detectServer } from '../sql/flavour';
import { UserError } from '../errors';
import { tableChecksum } from './checksum';
import { restoreDump, sha256OfFile } from './dump';
import { LOG_TIME_COLUMN } from './log-tables';
import { HISTORY_TIME_COLUMN, HistoryManifest, restoredRangeWhere } from './history-offload';
import { ManifestDamagedError, readSealedManifest } from './manifest-seal';
import { Manifest, manifestTables, readManifest, SetManifest } from './offload';
import { DumpedTable, restoreIntoScratch } from './verified-dump';

export interface RestoreResult {
  /** The table restored, or for a campaign set's dump "campaign_<id> set". */
  table: string;
  tables: string[];
  outcome: 'restored' | 'already-present';
  rows: number;
}

/** The damage found before a restore starts, as one line. */
function refuse(dumpFile: string, what: string): UserError {
  return new UserError(`${path.basename(dumpFile)}: ${what}; nothing restored, the live tables are unchanged`);
}

/**
 * Reads and proves the artefact a restore starts from, before anything on the server is touched:
 * the manifest unchanged since written (manifest-seal.ts), naming this file, and the file's SHA-256
 * the manifest's.
 */
export async function checkArtefact<T extends { file: string; sha256: string }>(dumpFile: string): Promise<T> {
  if (!fs.existsSync(dumpFile)) throw new UserError(`${dumpFile}: no such file`);
  const manifestFile = dumpFile.replace(/\.sql\.gz$/, '.manifest.json');
  if (!fs.existsSync(manifestFile)) throw refuse(dumpFile, `its manifest ${path.basename(manifestFile)} is missing`);
  let manifest: T;
  try {
    manifest = readSealedManifest<T>(manifestFile).manifest;
  } catch (err) {
    if (err instanceof ManifestDamagedError) throw refuse(dumpFile, err.message);
    throw err;
  }
  if (manifest.file !== path.basename(dumpFile)) throw refuse(dumpFile, `its manifest names the dump ${manifest.file}, not this file`);
  const sha = await sha256OfFile(dumpFile);
  if (sha !== manifest.sha256) throw refuse(dumpFile, 'SHA-256 differs from the manifest (file damaged)');
  return manifest;
}

/** The first difference between a table restored into scratch and what the manifest says of it, or null. */
export async function scratchMismatch(conn: Connection, scratch: string, want: DumpedTable, timeColumn: string | null,
  range: { from: string; to: string } | null, toIsExclusive = true): Promise<string | null> {
  const got = await tableChecksum(conn, scratch, want.table);
  if (got.rows !== want.rows) return `${want.table}: the dump holds ${got.rows} rows, the manifest says ${want.rows} (rows)`;
  if (got.checksum !== want.checksum) return `${want.table}: the dump's rows have checksum ${got.checksum}, the manifest says ${want.checksum} (checksum)`;
  if (timeColumn && range && got.rows > 0) {
    const col = quoteIdentifier(timeColumn);
    const [outside] = await queryRows<{ n: number }>(conn,
      `SELECT COUNT(*) AS n FROM ${quoteIdentifier(scratch)}.${quoteIdentifier(want.table)} WHERE ${col} < ? OR ${col} ${toIsExclusive ? '>=' : '>'} ?`,
      [range.from.replace('T', ' ').replace('Z', ''), range.to.replace('T', ' ').replace('Z', '')]);
    if (Number(outside.n) > 0) return `${want.table}: ${outside.n} of the dump's rows lie outside the manifest's range ${range.from} to ${range.to} (range)`;
  }
  return null;
}

/**
 * Loads an offloaded dump (a log table's, or a retired campaign set's) back, verifying first:
 * the artefact is proven (checkArtefact), the dump is restored into a scratch database and each
 * table compared with the manifest (rows, checksum, and a log table's time range), and only then
 * are the tables moved into place with one RENAME TABLE. Any mismatch leaves the live database
 * exactly as it was and names the mismatch. Restoring twice changes nothing; a table of that name
 * holding other rows is never overwritten, and a set's dump is restored only when none of its
 * tables exists (or all exist with the same rows).
 */
export async function restoreOffloaded(url: string, dumpFile: string): Promise<RestoreResult> {
  const database = parseUrl(url).database;
  if (!database) throw new UserError('the URL must name a database');
  const manifest = await checkArtefact<Manifest | SetManifest>(dumpFile);
  if ('kind' in manifest && (manifest as unknown as HistoryManifest).kind === 'history-rows') {
    return restoreHistoryRows(url, database, dumpFile, manifest as unknown as HistoryManifest);
  }
  const isSet = 'kind' in manifest && manifest.kind === 'campaign-set';
  const tables = manifestTables(manifest);
  const label = isSet ? `campaign_${(manifest as SetManifest).campaignId} set` : tables[0].table;
  const names = tables.map((t) => t.table);
  const total = tables.reduce((n, t) => n + t.rows, 0);
  return withConnection(url, async (conn) => {
    const server = await detectServer(conn);
    const present: string[] = [];
    for (const want of tables) {
      const [exists] = await conn.query('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, want.table]);
      if (!(exists as unknown[]).length) continue;
      const now = await tableChecksum(conn, database, want.table);
      if (now.rows !== want.rows || now.checksum !== want.checksum) {
        throw refuse(dumpFile, `${want.table} already exists with other rows (${now.rows} rows)`);
      }
      present.push(want.table);
    }
    if (present.length === tables.length) return { table: label, tables: names, outcome: 'already-present', rows: total };
    if (present.length) throw refuse(dumpFile, `${present.join(', ')} already exist(s) but not the other tables of the dump`);

    const scratch = await restoreIntoScratch(server, url, dumpFile);
    try {
      const range = isSet ? null : (manifest as Manifest).range;
      for (const want of tables) {
        const mismatch = await scratchMismatch(conn, scratch.name, want, isSet ? null : LOG_TIME_COLUMN, range);
        if (mismatch) throw refuse(dumpFile, mismatch);
      }
      const [fks] = await conn.query('SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? LIMIT 1', [scratch.name]);
      if (!(fks as unknown[]).length) {
        // One statement, atomic: every table appears at once, or (an error) none does.
        await conn.query(`RENAME TABLE ${names.map((t) => `${quoteIdentifier(scratch.name)}.${quoteIdentifier(t)} TO ${quoteIdentifier(database)}.${quoteIdentifier(t)}`).join(', ')}`);
      } else {
        // Foreign keys name their parent's database, so tables referencing others (a campaign set's)
        // cannot be moved from scratch: the proven file itself (same SHA-256) is loaded here instead,
        // and checked again; tables it created are dropped if the check fails (none existed before).
        try {
          await restoreDump(server, url, database, dumpFile);
          for (const want of tables) {
            const restored = await tableChecksum(conn, database, want.table);
            if (restored.rows !== want.rows || restored.checksum !== want.checksum) throw new Error(`${want.table}: restored ${restored.rows} rows but the manifest says ${want.rows}`);
          }
        } catch (err) {
          await conn.query('SET SESSION foreign_key_checks = 0');
          for (const t of names) await conn.query(`DROP TABLE IF EXISTS ${quoteIdentifier(t)}`);
          await conn.query('SET SESSION foreign_key_checks = 1');
          throw refuse(dumpFile, (err as Error).message);
        }
      }
    } finally {
      await scratch.drop().catch(() => undefined);
    }
    return { table: label, tables: names, outcome: 'restored', rows: total };
  });
}

export interface DayRestore {
  file: string;
  result?: RestoreResult;
  error?: string;
}

/** YYYY-MM-DD (UTC) -> [start, end) of that day; a one-line error otherwise. */
export function parseDay(text: string): { start: Date; end: Date } {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  const start = match ? new Date(`${text.trim()}T00:00:00Z`) : new Date(NaN);
  if (!match || Number.isNaN(start.getTime()) || start.toISOString().slice(0, 10) !== text.trim()) {
    throw new UserError(`--day must be a date like 2026-12-03 (UTC), got "${text}"`);
  }
  return { start, end: new Date(start.getTime() + 86_400_000) };
}

/** The span of time an artefact's rows cover: a log table's range, a history dump's oldest row to its cutoff, a set's creation instant. */
function artefactSpan(manifest: Manifest | SetManifest | HistoryManifest): { from: Date; to: Date } | null {
  const asDate = (t: string) => new Date(/Z$/.test(t) ? t : `${t.replace(' ', 'T')}Z`);
  if ('kind' in manifest && manifest.kind === 'history-rows') {
    const h = manifest as HistoryManifest;
    return { from: asDate(h.range?.from ?? h.cutoff), to: asDate(h.cutoff) };
  }
  if ('kind' in manifest && manifest.kind === 'campaign-set') return { from: asDate(manifest.createdAt), to: asDate(manifest.createdAt) };
  const single = manifest as Manifest;
  return single.range ? { from: asDate(single.range.from), to: asDate(single.range.to) } : null;
}

/**
 * Restores every artefact in a folder whose rows fall on a day (UTC): each rotated log table whose
 * range covers the day (several per day when rotated more than once), each history dump and each
 * retired set's. One after the other, each verified first (restoreOffloaded); one failing does not
 * stop the others. Dumps without a manifest are reported as failures, never loaded.
 */
export async function restoreDay(url: string, dir: string, day: string): Promise<DayRestore[]> {
  const { start, end } = parseDay(day);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`${dir}: no such folder`);
  const names = fs.readdirSync(dir).sort();
  const out: DayRestore[] = [];
  for (const name of names.filter((n) => n.endsWith('.manifest.json'))) {
    const manifest = readManifest<Manifest | SetManifest | HistoryManifest>(path.join(dir, name));
    const span = manifest ? artefactSpan(manifest) : null;
    const file = path.join(dir, manifest?.file ?? name.replace(/\.manifest\.json$/, '.sql.gz'));
    if (!manifest || !span) {
      out.push({ file, error: `${name} is unreadable (damaged); nothing restored from it` });
      continue;
    }
    const overlaps = span.from < end && (span.to > start || span.from.getTime() === span.to.getTime() && span.from >= start);
    if (!overlaps) continue;
    try {
      out.push({ file, result: await restoreOffloaded(url, file) });
    } catch (err) {
      out.push({ file, error: (err as Error).message });
    }
  }
  for (const name of names.filter((n) => n.endsWith('.sql.gz') && !names.includes(n.replace(/\.sql\.gz$/, '.manifest.json')))) {
    out.push({ file: path.join(dir, name), error: `${name} has no manifest (left by a killed offload?); not restored` });
  }
  return out;
}

/**
 * Loads a history dump back into its table, which may still exist and hold other rows, verifying
 * first: the dump is restored into a scratch database and compared with the manifest (rows,
 * checksum, every row's moved_at within the manifest's range and before its cutoff); only then are
 * the rows copied into the table in one transaction (INSERT IGNORE: a row already there, from an
 * earlier restore, is not added twice), and the table's rows in the dump's range must then be
 * exactly the dump's, or the transaction is rolled back. Any mismatch leaves the table as it was.
 */
export async function restoreHistoryRows(url: string, database: string, dumpFile: string, manifest: HistoryManifest): Promise<RestoreResult> {
  const rangeWhere = `WHERE ${restoredRangeWhere(manifest)}`;
  const table = manifest.table;
  const refuse = (what: string) => new UserError(`${path.basename(dumpFile)}: ${what}; nothing restored, the live tables are unchanged`);
  return withConnection(url, async (conn) => {
    const server = await detectServer(conn);
    const exists = (await queryRows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, table])).length > 0;
    if (exists) {
      const before = await tableChecksum(conn, database, table, rangeWhere);
      if (before.rows === manifest.rows && before.checksum === manifest.checksum) {
        return { table, tables: [table], outcome: 'already-present', rows: manifest.rows };
      }
    }
    const scratch = await restoreIntoScratch(server, url, dumpFile);
    try {
      const from = manifest.range?.from ?? '0000-01-01 00:00:00.000000';
      const mismatch = await scratchMismatch(conn, scratch.name, { table, rows: manifest.rows, checksum: manifest.checksum }, HISTORY_TIME_COLUMN,
        { from, to: manifest.cutoff });
      if (mismatch) throw refuse(mismatch);
      const source = `${quoteIdentifier(scratch.name)}.${quoteIdentifier(table)}`;
      if (!exists) {
        await conn.query(`RENAME TABLE ${source} TO ${quoteIdentifier(database)}.${quoteIdentifier(table)}`);
        return { table, tables: [table], outcome: 'restored', rows: manifest.rows };
      }
      const columns = (await queryRows<{ c: string }>(conn,
        'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [scratch.name, table]))
        .map((r) => quoteIdentifier(r.c)).join(', ');
      await conn.query('START TRANSACTION');
      try {
        await conn.query(`INSERT IGNORE INTO ${quoteIdentifier(table)} (${columns}) SELECT ${columns} FROM ${source}`);
        const after = await tableChecksum(conn, database, table, rangeWhere);
        if (after.rows !== manifest.rows || after.checksum !== manifest.checksum) {
          throw refuse(`${table} would hold ${after.rows} rows in the dump's range (${manifest.range?.from} to ${manifest.cutoff}), the dump ${manifest.rows}: ` +
            'rows with the same keys but other values, or other rows in that range');
        }
        await conn.query('COMMIT');
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      return { table, tables: [table], outcome: 'restored', rows: manifest.rows };
    } finally {
      await scratch.drop().catch(() => undefined);
    }
  });
}
