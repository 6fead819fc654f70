// Verified offload of rotated log tables: dump, manifest, restore into the scratch schema <db>_verify and
// compare, and only then drop. Any failing step leaves the table in place and names the step.
import fs from 'fs';
import path from 'path';
import { Connection, parseUrl, queryRows, quoteIdentifier, withConnection } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { UserError } from '../errors';
import { tableChecksum, TableChecksum } from './checksum';
import { dumpTable, restoreDump, sha256OfFile } from './dump';
import { LOG_TIME_COLUMN, rotatedLogTables, RotatedTable } from './log-tables';
import { HistoryManifest, restoreHistoryRows } from './history-offload';
import { ManifestDamagedError, manifestSideFile, readSealedManifest, writeSealedManifest } from './manifest-seal';
import { DumpedTable, ensureWritableFolder, pauseIfAsked, removeStaleVerificationCopies, requireTool, restoreIntoScratch, verifyDumpFile } from './verified-dump';

export type OffloadStep = 'preflight' | 'checksum' | 'dump' | 'manifest' | 'verify' | 'drop' | 'delete';

export interface Manifest {
  format: 1;
  database: string;
  table: string;
  rows: number;
  checksum: string;
  file: string;
  sha256: string;
  range: { from: string; to: string } | null;
  server: string;
  tool: string;
  createdAt: string;
}

/** The manifest of a retired campaign set's dump (tools/campaigns/retire.ts): one file, every table of the set. */
export interface SetManifest {
  format: 1;
  kind: 'campaign-set';
  database: string;
  campaignId: number;
  templateVersion: number;
  tables: DumpedTable[];
  rows: number;
  file: string;
  sha256: string;
  server: string;
  tool: string;
  createdAt: string;
}

export interface OffloadResult {
  table: string;
  /** What was offloaded: a whole rotated log table (dropped), or a history table's old rows (deleted). */
  kind?: 'log-table' | 'history-rows';
  outcome: 'offloaded' | 'failed';
  step?: OffloadStep;
  error?: string;
  rows: number;
  file?: string;
  /** True when a complete artefact of an earlier run was found and used as it was. */
  reused?: boolean;
}

export class OffloadStepError extends Error {
  constructor(readonly table: string, readonly step: OffloadStep, reason: string) {
    super(`${table}: ${step} failed: ${reason}`);
  }
}

export function dumpFileName(table: string): string {
  return `${table}.sql.gz`;
}

export function manifestFileName(table: string): string {
  return `${table}.manifest.json`;
}

export function parseAge(text: string): number {
  const match = /^(\d+)(d|h|m)$/.exec(text.trim());
  if (!match) throw new UserError(`age must look like 30d, 12h or 90m, got "${text}"`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as 'd' | 'h' | 'm'];
  return Number(match[1]) * unit;
}

export async function step<T>(table: string, name: OffloadStep, fn: () => Promise<T> | T, timings?: Record<string, number>): Promise<T> {
  const started = Date.now();
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OffloadStepError) throw err;
    throw new OffloadStepError(table, name, (err as Error).message);
  } finally {
    if (timings) timings[name] = (timings[name] ?? 0) + (Date.now() - started) / 1000;
  }
}

/** Restores the dump into the empty scratch schema <db>_verify and checks it holds exactly the source's rows. */
export async function verifyDump(server: ServerInfo, url: string, manifest: Manifest, file: string, timings?: Record<string, number>): Promise<void> {
  await verifyDumpFile(server, url, file, manifest.sha256, [{ table: manifest.table, rows: manifest.rows, checksum: manifest.checksum }],
    { afterRestore: () => pauseIfAsked('verify'), timings });
}

export interface OffloadOptions {
  url: string;
  outDir: string;
  olderThanMs: number;
  /** History rows deleted per transaction once their dump is verified (default 5,000). */
  deleteChunk?: number;
  /** Seconds spent in each step, summed over the tables (the benchmark's profile). */
  timings?: Record<string, number>;
  now?: Date;
  log?: (line: string) => void;
}

/**
 * Runs fn holding the database's offload lock: one offload at a time per database, so that
 * leftovers of a killed run (.partial files, verification copies) can be removed safely.
 */
export async function withOffloadLock<T>(conn: Connection, database: string, fn: () => Promise<T>): Promise<T> {
  const lock = `reminderly_db.offload.${database}`.slice(0, 64);
  const [{ got }] = await queryRows<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, 10) AS got', [lock]);
  if (Number(got) !== 1) throw new Error(`another offload of ${database} is running (lock ${lock} busy for 10 s)`);
  try {
    return await fn();
  } finally {
    await conn.query('DO RELEASE_LOCK(?)', [lock]).catch(() => undefined);
  }
}

export async function offloadRotatedLogs(options: OffloadOptions): Promise<OffloadResult[]> {
  const database = parseUrl(options.url).database;
  if (!database) throw new UserError('the URL must name a database');
  const now = options.now ?? new Date();
  return withConnection(options.url, (conn) => withOffloadLock(conn, database, async () => {
    const server = await detectServer(conn);
    await removeStaleVerificationCopies(options.url, options.log);
    const due: RotatedTable[] = [];
    for (const rotated of await rotatedLogTables(conn)) {
      // Age is that of the newest row (the name's dates are whole days, for people to read).
      const [{ newest }] = await queryRows<{ newest: Date | null }>(conn,
        `SELECT MAX(${LOG_TIME_COLUMN}) AS newest FROM ${quoteIdentifier(rotated.table)}`);
      if (newest === null || now.getTime() - newest.getTime() >= options.olderThanMs) due.push(rotated);
    }
    const results: OffloadResult[] = [];
    for (const table of due) {
      options.log?.(`offloading ${table.table}`);
      try {
        results.push(await offloadTable(conn, server, options.url, database, table, options.outDir, options.timings, options.log));
      } catch (err) {
        const e = err as OffloadStepError;
        results.push({ table: table.table, outcome: 'failed', step: e.step ?? 'preflight', error: e.message, rows: 0 });
      }
    }
    return results;
  }));
}

async function offloadTable(conn: Connection, server: ServerInfo, url: string, database: string, rotated: RotatedTable,
  outDir: string, timings?: Record<string, number>, log?: (line: string) => void): Promise<OffloadResult> {
  const table = rotated.table;
  const file = path.join(outDir, dumpFileName(table));
  const manifestFile = path.join(outDir, manifestFileName(table));
  const tool = await step(table, 'preflight', async () => {
    ensureWritableFolder(outDir);
    // Temporary files of a killed run (we hold the offload lock): never finished, nothing refers to them.
    for (const f of [file, manifestFile, manifestSideFile(manifestFile)]) fs.rmSync(`${f}.partial`, { force: true });
    return requireTool(server.dumpCommand);
  }, timings);
  const source: TableChecksum = await step(table, 'checksum', () => tableChecksum(conn, database, table), timings);

  // The table's name is unique (log-tables.ts), so an artefact of that name is an earlier run's
  // for these very rows: used as it is when its sealed manifest matches, never written over.
  let manifest: Manifest;
  let reused = false;
  if (fs.existsSync(manifestFile)) {
    manifest = await step(table, 'manifest', () => readSealedManifest<Manifest>(manifestFile).manifest, timings);
    if (manifest.table !== table || manifest.database !== database || manifest.rows !== source.rows || manifest.checksum !== source.checksum) {
      throw new OffloadStepError(table, 'manifest', `${path.basename(manifestFile)} already exists for other rows (${manifest.rows}, the table ` +
        `${source.rows}); it is never overwritten and nothing was dropped`);
    }
    if (!fs.existsSync(file)) throw new OffloadStepError(table, 'manifest', `${path.basename(manifestFile)} exists but its dump ${path.basename(file)} is missing; nothing dropped`);
    reused = true;
    log?.(`${table}: an earlier run's ${path.basename(file)} and manifest match the table; verifying them as they are`);
  } else {
    if (fs.existsSync(file)) {
      // Published by a run killed before its manifest: no manifest vouches for it and the table
      // was not dropped (that needs the manifest), so every row is still in the table.
      log?.(`${table}: removing ${path.basename(file)}, a dump without manifest left by a killed run (the table still holds its rows)`);
      fs.rmSync(file);
    }
    const sha256 = await step(table, 'dump', () => dumpTable(server, url, database, table, file, { exclusive: true, onStarted: () => pauseIfAsked('dump') }), timings);
    manifest = {
      format: 1, database, table, rows: source.rows, checksum: source.checksum, file: path.basename(file), sha256,
      range: { from: rotated.from.toISOString(), to: rotated.to.toISOString() },
      server: server.versionComment, tool, createdAt: new Date().toISOString(),
    };
    const written = manifest;
    await step(table, 'manifest', () => createManifest(manifestFile, written), timings);
  }
  const verified = manifest;
  await step(table, 'verify', () => verifyDump(server, url, verified, file, timings), timings);
  await pauseIfAsked('drop');
  await step(table, 'drop', async () => {
    // The rotated table takes no writes, but check anyway: what is dropped must be what was verified.
    const now = await tableChecksum(conn, database, table);
    if (now.rows !== verified.rows || now.checksum !== verified.checksum) throw new Error('the table changed after it was dumped; not dropping it');
    await conn.query(`DROP TABLE ${quoteIdentifier(table)}`);
  }, timings);
  return { table, kind: 'log-table', outcome: 'offloaded', rows: source.rows, file, reused };
}

/** Writes a sealed manifest (and its .sha256 side file) that must not exist yet: offloads never write over an artefact. */
export function createManifest(file: string, manifest: object): void {
  writeSealedManifest(file, manifest, true);
}

/** Writes a sealed manifest, replacing one of that name (a retired set's rerun); whole on disk or absent. */
export function writeManifest(file: string, manifest: object): void {
  writeSealedManifest(file, manifest, false);
}

export function readManifest<T = Manifest>(file: string): T | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** The tables a manifest vouches for: one for a log table's dump, every table of a set's. */
export function manifestTables(manifest: Manifest | SetManifest): DumpedTable[] {
  if ('tables' in manifest && Array.isArray(manifest.tables)) return manifest.tables;
  const single = manifest as Manifest;
  return [{ table: single.table, rows: single.rows, checksum: single.checksum }];
}

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
