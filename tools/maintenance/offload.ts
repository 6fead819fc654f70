// Verified offload of rotated log tables: dump, manifest, restore into a throwaway database and
// compare, and only then drop. Any failing step leaves the table in place and names the step.
import fs from 'fs';
import path from 'path';
import { createThrowawayDatabase } from '../harness/database';
import { Connection, parseUrl, queryRows, quoteIdentifier, withConnection, withDatabase } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { UserError } from '../errors';
import { tableChecksum, TableChecksum } from './checksum';
import { dumpTable, restoreDump, sha256OfFile, toolVersion, ToolMissingError } from './dump';
import { LOG_TIME_COLUMN, rotatedLogTables, RotatedTable } from './log-tables';

export type OffloadStep = 'preflight' | 'checksum' | 'dump' | 'manifest' | 'verify' | 'drop';

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

export interface OffloadResult {
  table: string;
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

/** Test-only fault injection: REMINDERLY_PAUSE_AT=dump|verify|drop stops there until killed. */
async function pauseIfAsked(point: 'dump' | 'verify' | 'drop'): Promise<void> {
  if (process.env.REMINDERLY_PAUSE_AT !== point) return;
  process.stderr.write(`paused at ${point}\n`);
  await new Promise(() => setInterval(() => undefined, 60_000));
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

function ensureWritableFolder(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const probe = path.join(dir, `.write-probe-${process.pid}`);
  fs.writeFileSync(probe, 'ok');
  fs.rmSync(probe);
}

async function step<T>(table: string, name: OffloadStep, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OffloadStepError) throw err;
    throw new OffloadStepError(table, name, (err as Error).message);
  }
}

/** Restores the dump into a fresh throwaway database and checks it holds exactly the source's rows. */
export async function verifyDump(server: ServerInfo, url: string, manifest: Manifest, file: string): Promise<void> {
  const sha = await sha256OfFile(file);
  if (sha !== manifest.sha256) throw new Error(`the dump's SHA-256 ${sha.slice(0, 16)}… differs from the manifest's ${manifest.sha256.slice(0, 16)}… (file damaged)`);
  const scratch = await createThrowawayDatabase('verify', withDatabase(url, null));
  try {
    await restoreDump(server, url, scratch.name, file);
    await pauseIfAsked('verify');
    const restored = await withConnection(scratch.url, (conn) => tableChecksum(conn, scratch.name, manifest.table));
    if (restored.rows !== manifest.rows || restored.checksum !== manifest.checksum) {
      throw new Error(`restored copy has ${restored.rows} rows (checksum ${restored.checksum}), source ${manifest.rows} (checksum ${manifest.checksum})`);
    }
  } finally {
    await scratch.drop().catch(() => undefined);
  }
}

export interface OffloadOptions {
  url: string;
  outDir: string;
  olderThanMs: number;
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
        results.push(await offloadTable(conn, server, options.url, database, table, options.outDir));
      } catch (err) {
        const e = err as OffloadStepError;
        results.push({ table: table.table, outcome: 'failed', step: e.step ?? 'preflight', error: e.message, rows: 0 });
      }
    }
    return results;
  });
}

async function offloadTable(conn: Connection, server: ServerInfo, url: string, database: string, rotated: RotatedTable,
  outDir: string): Promise<OffloadResult> {
  const table = rotated.table;
  const file = path.join(outDir, dumpFileName(table));
  const manifestFile = path.join(outDir, manifestFileName(table));
  const tool = await step(table, 'preflight', async () => {
    ensureWritableFolder(outDir);
    try {
      return await toolVersion(server.dumpCommand);
    } catch (err) {
      throw err instanceof ToolMissingError ? err : new Error(`${server.dumpCommand} --version failed: ${(err as Error).message}`);
    }
  });
  const source: TableChecksum = await step(table, 'checksum', () => tableChecksum(conn, database, table));

  // A dump left by an earlier, interrupted run is reused when its manifest matches the rows
  // still in the table; verification below checks the file itself either way.
  let manifest = readManifest(manifestFile);
  if (!manifest || manifest.rows !== source.rows || manifest.checksum !== source.checksum || !fs.existsSync(file)) {
    const sha256 = await step(table, 'dump', () => dumpTable(server, url, database, table, file, { onStarted: () => pauseIfAsked('dump') }));
    manifest = {
      format: 1, database, table, rows: source.rows, checksum: source.checksum, file: path.basename(file), sha256,
      range: { from: rotated.from.toISOString(), to: rotated.to.toISOString() },
      server: server.versionComment, tool, createdAt: new Date().toISOString(),
    };
    const written = manifest;
    await step(table, 'manifest', () => {
      fs.writeFileSync(`${manifestFile}.partial`, JSON.stringify(written, null, 2) + '\n');
      fs.renameSync(`${manifestFile}.partial`, manifestFile);
    });
  }
  const verified = manifest;
  await step(table, 'verify', () => verifyDump(server, url, verified, file));
  await pauseIfAsked('drop');
  await step(table, 'drop', async () => {
    // The rotated table takes no writes, but check anyway: what is dropped must be what was verified.
    const now = await tableChecksum(conn, database, table);
    if (now.rows !== verified.rows || now.checksum !== verified.checksum) throw new Error('the table changed after it was dumped; not dropping it');
    await conn.query(`DROP TABLE ${quoteIdentifier(table)}`);
  });
  return { table, outcome: 'offloaded', rows: source.rows, file };
}

export function readManifest(file: string): Manifest | null {
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

export interface RestoreResult {
  table: string;
  outcome: 'restored' | 'already-present';
  rows: number;
}

/** Loads an offloaded dump back. Restoring twice changes nothing; a different table of that name is never overwritten. */
export async function restoreOffloaded(url: string, dumpFile: string): Promise<RestoreResult> {
  const database = parseUrl(url).database;
  if (!database) throw new UserError('the URL must name a database');
  if (!fs.existsSync(dumpFile)) throw new UserError(`${dumpFile}: no such file`);
  const manifestFile = dumpFile.replace(/\.sql\.gz$/, '.manifest.json');
  const manifest = readManifest(manifestFile);
  if (!manifest) throw new UserError(`${dumpFile}: its manifest ${path.basename(manifestFile)} is missing or unreadable`);
  const sha = await sha256OfFile(dumpFile);
  if (sha !== manifest.sha256) throw new UserError(`${dumpFile}: SHA-256 differs from the manifest (file damaged); nothing restored`);
  return withConnection(url, async (conn) => {
    const server = await detectServer(conn);
    const [exists] = await conn.query('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, manifest.table]);
    if ((exists as unknown[]).length) {
      const present = await tableChecksum(conn, database, manifest.table);
      if (present.rows === manifest.rows && present.checksum === manifest.checksum) {
        return { table: manifest.table, outcome: 'already-present', rows: present.rows };
      }
      throw new UserError(`${manifest.table} already exists with other rows (${present.rows} rows); nothing restored`);
    }
    await restoreDump(server, url, database, dumpFile);
    const restored = await tableChecksum(conn, database, manifest.table);
    if (restored.rows !== manifest.rows || restored.checksum !== manifest.checksum) {
      throw new UserError(`${manifest.table}: restored ${restored.rows} rows but the manifest says ${manifest.rows}; check the table`);
    }
    return { table: manifest.table, outcome: 'restored', rows: restored.rows };
  });
}
