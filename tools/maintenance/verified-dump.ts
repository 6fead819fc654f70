// The pieces every verified dump shares (log offload, campaign set retirement): the output
// folder and tools checked before anything starts, and the verification of a dump by restoring
// it into the database's scratch schema `<db>_verify` (verify-scratch.ts) and comparing each
// table's rows with the source.
import { UserError } from '../errors';
import fs from 'fs';
import path from 'path';
import { createThrowawayDatabase, isStale, ThrowawayDatabase } from '../harness/database';
import { Connection, parseUrl, queryRows, quoteIdentifier, withConnection, withDatabase } from '../sql/connection';
import { ServerInfo } from '../sql/flavour';
import { tableChecksum } from './checksum';
import { restoreDump, sha256OfFile, toolVersion, ToolMissingError } from './dump';
import { verifyLockName, verifyScratchName, withVerifyScratch } from './verify-scratch';

/** One table of a dump: what the source held when it was dumped. */
export interface DumpedTable {
  table: string;
  rows: number;
  checksum: string;
}

/** Test-only fault injection: REMINDERLY_PAUSE_AT=<point> stops there until the process is killed. */
export async function pauseIfAsked(point: string): Promise<void> {
  if (process.env.REMINDERLY_PAUSE_AT !== point) return;
  process.stderr.write(`paused at ${point}\n`);
  await new Promise(() => setInterval(() => undefined, 60_000));
}

/**
 * Creates the folder if needed and proves a file can be written there, one bounded step per path
 * component (fs.mkdirSync's recursive mode spins for good on /proc). A folder that cannot be made
 * or written is the user's mistake: a one-line UserError naming the option, before any lock.
 */
export function ensureWritableFolder(dir: string, option = '--out'): void {
  const absolute = path.resolve(dir);
  const missing: string[] = [];
  const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  for (let at = absolute; ; at = path.dirname(at)) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(at);
    } catch (err) {
      // ENOTDIR: a component above is a file; walking up finds it and says so.
      if (!['ENOENT', 'ENOTDIR'].includes(codeOf(err)) || path.dirname(at) === at) throw new UserError(`${option} ${dir}: cannot read ${at}: ${codeOf(err)}`);
      missing.unshift(at);
      continue;
    }
    if (!stat.isDirectory()) throw new UserError(`${option} ${dir}: ${at} is not a folder`);
    break;
  }
  for (const folder of missing) {
    try {
      fs.mkdirSync(folder);
    } catch (err) {
      if (codeOf(err) !== 'EEXIST') throw new UserError(`${option} ${dir}: cannot create ${folder}: ${codeOf(err)}`);
    }
  }
  const probe = path.join(absolute, `.write-probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, 'ok');
    fs.rmSync(probe);
  } catch (err) {
    throw new UserError(`${option} ${dir}: cannot write a file there: ${codeOf(err)}`);
  }
}

/** The dump tool's version line; a clear error when the tool is not on PATH. */
export async function requireTool(command: string): Promise<string> {
  try {
    return await toolVersion(command);
  } catch (err) {
    throw err instanceof ToolMissingError ? err : new Error(`${command} --version failed: ${(err as Error).message}`);
  }
}

/**
 * Whether a session may keep its writes out of the binary log: only worth it when the server
 * writes one, and only allowed with the privilege (SUPER / SYSTEM_VARIABLES_ADMIN / BINLOG ADMIN).
 */
async function binlogCanBeSkipped(conn: Connection): Promise<boolean> {
  const [{ on }] = await queryRows<{ on: number }>(conn, 'SELECT @@global.log_bin AS `on`');
  if (Number(on) !== 1) return false;
  try {
    await conn.query('SET SESSION sql_log_bin = 0');
    return true;
  } catch {
    return false;
  }
}

/** The label every verification copy's database name ends with: rdbt_<created>_<pid>_<random>_verify. */
const VERIFY_LABEL = 'verify';

/**
 * The scratch database a dump is restored into to be checked (verification and restores). The one
 * place that names it: `rdbt_<created, base 36>_<pid>_<random>_verify` on the dump's server.
 */
export function createVerificationScratch(url: string): Promise<ThrowawayDatabase> {
  return createThrowawayDatabase(VERIFY_LABEL, withDatabase(url, null));
}

/**
 * Drops verification copies left by killed runs: databases named like createVerificationScratch's
 * whose creating process is gone (same host) or that are older than a day. They hold copies of
 * production rows and nothing else refers to them. Returns the names dropped.
 */
export async function removeStaleVerificationCopies(url: string, log?: (line: string) => void): Promise<string[]> {
  return withConnection(withDatabase(url, null), async (conn) => {
    const rows = await queryRows<Record<string, string>>(conn, `SHOW DATABASES LIKE 'rdbt\\_%\\_${VERIFY_LABEL}'`);
    const stale = rows.map((r) => Object.values(r)[0]).filter((name) => isStale(name));
    for (const name of stale) {
      await conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
      const age = Math.round(Date.now() / 1000 - parseInt(name.split('_')[1], 36));
      log?.(`removed ${name}, a verification copy left by a killed run (${age} s old, its process gone)`);
    }
    // The fixed scratch schema <db>_verify (verify-scratch.ts) left by a killed verification: removed
    // only while no verification holds its lock, i.e. nobody is using it.
    const { database } = parseUrl(url);
    if (database) {
      const scratch = verifyScratchName(database);
      const [exists] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [scratch]);
      if (Number(exists.n) > 0) {
        const lock = verifyLockName(database);
        const [got] = await queryRows<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, 0) AS got', [lock]);
        if (got.got === 1) {
          try {
            await conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)}`);
            stale.push(scratch);
            log?.(`removed ${scratch}, a verification copy left by a killed run (no verification holds its lock)`);
          } finally {
            await conn.query('SELECT RELEASE_LOCK(?)', [lock]);
          }
        }
      }
    }
    return stale;
  }, { database: null });
}

/** Restores a dump into a fresh verification scratch database (kept out of the binlog when allowed); the caller drops it. */
export async function restoreIntoScratch(server: ServerInfo, url: string, file: string): Promise<ThrowawayDatabase> {
  const scratch = await createVerificationScratch(url);
  try {
    const skipBinlog = await withConnection(scratch.url, (conn) => binlogCanBeSkipped(conn));
    await restoreDump(server, url, scratch.name, file, { skipBinlog });
    return scratch;
  } catch (err) {
    await scratch.drop().catch(() => undefined);
    throw err;
  }
}

export interface VerifyOptions {
  /** Called after the restore, before the comparison (fault tests pause here). */
  afterRestore?: () => Promise<void>;
  /** Seconds spent in each part of the verification (the benchmark's profile). */
  timings?: Record<string, number>;
}

/**
 * Proves a dump file holds exactly the rows it should: its SHA-256 is the one recorded when it was
 * written, and restored into the empty scratch schema `<db>_verify` with the server's own client,
 * every table has the recorded row count and checksum. The scratch schema is always dropped.
 */
export async function verifyDumpFile(server: ServerInfo, url: string, file: string, sha256: string, tables: DumpedTable[],
  options: VerifyOptions = {}): Promise<void> {
  let mark = Date.now();
  const lap = (name: string) => {
    if (options.timings) options.timings[name] = (options.timings[name] ?? 0) + (Date.now() - mark) / 1000;
    mark = Date.now();
  };
  const sha = await sha256OfFile(file);
  lap('verify: sha256');
  if (sha !== sha256) throw new Error(`the dump's SHA-256 ${sha.slice(0, 16)}… differs from the manifest's ${sha256.slice(0, 16)}… (file damaged)`);
  const { database } = parseUrl(url);
  if (!database) throw new Error('verifyDumpFile: the URL must name the source database');
  await withConnection(url, async (conn) => {
    // Decided before the scratch schema is made: its CREATE, the restore and its DROP then all
    // reach the binary log, or none of them does (a replica never keeps a half of it).
    const skipBinlog = await binlogCanBeSkipped(conn);
    await withVerifyScratch(conn, database, (scratch) => restoreAndCompare(conn, scratch, skipBinlog));
  });

  async function restoreAndCompare(conn: Connection, scratch: string, skipBinlog: boolean): Promise<void> {
    await restoreDump(server, url, scratch, file, { skipBinlog });
    lap('verify: restore');
    if (options.afterRestore) await options.afterRestore();
    for (const want of tables) {
      const restored = await tableChecksum(conn, scratch, want.table);
      if (restored.rows !== want.rows || restored.checksum !== want.checksum) {
        throw new Error(`restored ${want.table} has ${restored.rows} rows (checksum ${restored.checksum}), source ${want.rows} (checksum ${want.checksum})`);
      }
    }
    lap('verify: checksum of the restored rows');
  }
}
