// Verified offload of rotated log tables: dump, manifest, restore into the scratch schema <db>_verify and
// compare, and only then drop. Any failing step leaves the table in place and names the step.
import fs from 'fs';
import path from 'path';
import { Connection, parseUrl, queryRows, quoteIdentifier, withConnection } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { UserError } from '../errors';
import { tableChecksum, TableChecksum } from './checksum';
import { dumpTable } from './dump';
import { LOG_TIME_COLUMN, rotatedLogTables, RotatedTable } from './log-tables';
import { manifestSideFile, readSealedManifest, writeSealedManifest } from './manifest-seal';
import { DumpedTable, ensureWritableFolder, pauseIfAsked, removeStaleVerificationCopies, requireTool, verifyDumpFile } from './verified-dump';

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

/** The manifest of a retired campaign set's dump (tools/maintenance/retire.ts): one file, every table of the set. */
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
