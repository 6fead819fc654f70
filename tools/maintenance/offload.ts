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
import { DumpedTable, ensureWritableFolder, pauseIfAsked, requireTool, verifyDumpFile } from './verified-dump';

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

export async function offloadRotatedLogs(options: OffloadOptions): Promise<OffloadResult[]> {
  const database = parseUrl(options.url).database;
  if (!database) throw new UserError('the URL must name a database');
  const now = options.now ?? new Date();
  return withConnection(options.url, async (conn) => {
    const server = await detectServer(conn);
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
        results.push(await offloadTable(conn, server, options.url, database, table, options.outDir, options.timings));
      } catch (err) {
        const e = err as OffloadStepError;
        results.push({ table: table.table, outcome: 'failed', step: e.step ?? 'preflight', error: e.message, rows: 0 });
      }
    }
    return results;
  });
}

async function offloadTable(conn: Connection, server: ServerInfo, url: string, database: string, rotated: RotatedTable,
  outDir: string, timings?: Record<string, number>): Promise<OffloadResult> {
  const table = rotated.table;
  const file = path.join(outDir, dumpFileName(table));
  const manifestFile = path.join(outDir, manifestFileName(table));
  const tool = await step(table, 'preflight', async () => {
    ensureWritableFolder(outDir);
    return requireTool(server.dumpCommand);
  }, timings);
  const source: TableChecksum = await step(table, 'checksum', () => tableChecksum(conn, database, table), timings);

  // A dump left by an earlier, interrupted run is reused when its manifest matches the rows
  // still in the table; verification below checks the file itself either way.
  let manifest = readManifest(manifestFile);
  if (!manifest || manifest.rows !== source.rows || manifest.checksum !== source.checksum || !fs.existsSync(file)) {
    const sha256 = await step(table, 'dump', () => dumpTable(server, url, database, table, file, { onStarted: () => pauseIfAsked('dump') }), timings);
    manifest = {
      format: 1, database, table, rows: source.rows, checksum: source.checksum, file: path.basename(file), sha256,
      range: { from: rotated.from.toISOString(), to: rotated.to.toISOString() },
      server: server.versionComment, tool, createdAt: new Date().toISOString(),
    };
    const written = manifest;
    await step(table, 'manifest', () => writeManifest(manifestFile, written), timings);
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
  return { table, kind: 'log-table', outcome: 'offloaded', rows: source.rows, file };
}

/** Writes a manifest under a temporary name, then renames it: a manifest on disk is always whole. */
export function writeManifest(file: string, manifest: object): void {
  fs.writeFileSync(`${file}.partial`, JSON.stringify(manifest, null, 2) + '\n');
  fs.renameSync(`${file}.partial`, file);
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

/**
 * Loads an offloaded dump (a log table's, or a retired campaign set's) back. Restoring twice
 * changes nothing; a table of that name holding other rows is never overwritten, and a set's
 * dump is restored only when none of its tables exists (or all exist with the same rows).
 */
export async function restoreOffloaded(url: string, dumpFile: string): Promise<RestoreResult> {
  const database = parseUrl(url).database;
  if (!database) throw new UserError('the URL must name a database');
  if (!fs.existsSync(dumpFile)) throw new UserError(`${dumpFile}: no such file`);
  const manifestFile = dumpFile.replace(/\.sql\.gz$/, '.manifest.json');
  const manifest = readManifest<Manifest | SetManifest>(manifestFile);
  if (!manifest) throw new UserError(`${dumpFile}: its manifest ${path.basename(manifestFile)} is missing or unreadable`);
  const sha = await sha256OfFile(dumpFile);
  if (sha !== manifest.sha256) throw new UserError(`${dumpFile}: SHA-256 differs from the manifest (file damaged); nothing restored`);
  if ('kind' in manifest && (manifest as unknown as HistoryManifest).kind === 'history-rows') {
    return restoreHistoryRows(url, database, dumpFile, manifest as unknown as HistoryManifest);
  }
  const tables = manifestTables(manifest);
  const label = 'kind' in manifest && manifest.kind === 'campaign-set' ? `campaign_${manifest.campaignId} set` : tables[0].table;
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
        throw new UserError(`${want.table} already exists with other rows (${now.rows} rows); nothing restored`);
      }
      present.push(want.table);
    }
    if (present.length === tables.length) return { table: label, tables: names, outcome: 'already-present', rows: total };
    if (present.length) throw new UserError(`${label}: ${present.join(', ')} already exist(s) but not the other tables of the dump; nothing restored`);
    await restoreDump(server, url, database, dumpFile);
    for (const want of tables) {
      const restored = await tableChecksum(conn, database, want.table);
      if (restored.rows !== want.rows || restored.checksum !== want.checksum) {
        throw new UserError(`${want.table}: restored ${restored.rows} rows but the manifest says ${want.rows}; check the table`);
      }
    }
    return { table: label, tables: names, outcome: 'restored', rows: total };
  });
}
