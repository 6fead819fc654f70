// The server's own dump tool and client, driven from Node: dumps go through gzip to disk with
// their SHA-256 computed on the way; restores stream the file back through the matching client.
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import { pipeline } from 'stream/promises';
import { Readable, Transform } from 'stream';
import zlib from 'zlib';
import { parseUrl } from '../sql/connection';
import { clientPackageOfTool, ServerInfo } from '../sql/flavour';

export class ToolMissingError extends Error {}

export function connectionArgs(url: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const target = parseUrl(url);
  const args = target.socketPath
    ? [`--socket=${target.socketPath}`, `--user=${target.user}`]
    : ['--protocol=TCP', `--host=${target.host}`, `--port=${target.port}`, `--user=${target.user}`];
  // The password goes through the environment, never the command line (visible in ps).
  return { args, env: { ...process.env, MYSQL_PWD: target.password } };
}

function spawnTool(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT'
      ? new ToolMissingError(`${command} not found on PATH (it comes with ${clientPackageOfTool(command)?.label ?? "the server's client package"})`)
      : err));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`))));
  });
  return { child, exited };
}

export async function toolVersion(command: string): Promise<string> {
  const { child, exited } = spawnTool(command, ['--version'], process.env);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stdin.end();
  await exited;
  return out.trim();
}

/** Passes bytes through while hashing them. */
function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({ transform(chunk, _enc, cb) { hash.update(chunk); cb(null, chunk); } });
}

export interface DumpOptions {
  /** Called once the dump has started writing (fault tests pause here). */
  onStarted?: () => Promise<void>;
  /**
   * Never replace an existing file: the finished dump is linked to its name, which fails when the
   * name is taken (offloads: a dump, once made, is never written again). Default: replace.
   */
  exclusive?: boolean;
}

/** Thrown when an exclusive write finds its name taken: nothing was written over it. */
export class ArtefactExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists; it is never overwritten`);
  }
}

/** Gives a finished temporary file its name; exclusive: fails rather than replace a file of that name. */
export function publishFile(tmp: string, file: string, exclusive: boolean): void {
  if (!exclusive) {
    fs.renameSync(tmp, file);
    return;
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ArtefactExistsError(file);
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Dumps one table, consistent (--single-transaction), into a gzip file; returns its SHA-256. The
 * file is written under a temporary name and renamed when complete, so a killed dump never
 * leaves a file that looks finished.
 */
export async function dumpTable(server: ServerInfo, url: string, database: string, table: string, outFile: string,
  options: DumpOptions = {}): Promise<string> {
  return dumpTables(server, url, database, [table], outFile, options);
}

/**
 * Dumps several tables into one gzip file, from one consistent snapshot (--single-transaction
 * covers every table of the run); returns the file's SHA-256. Same temporary-name rule as
 * dumpTable. The dump switches foreign key checks off while it loads (the tool's own header),
 * so tables referencing others restore in any order and into a database without the others.
 */
export async function dumpTables(server: ServerInfo, url: string, database: string, tables: string[], outFile: string,
  options: DumpOptions = {}): Promise<string> {
  if (!tables.length) throw new Error('no table to dump');
  return dumpToFile(server, url, database, tables, outFile, options, '', []);
}

/**
 * Dumps the rows of one table that match `where` (SQL, run by the dump tool in its consistent
 * snapshot) so that the file can be restored into a database where the table already exists,
 * holding other rows or some of these: the file creates the table only if it is missing (its DDL
 * from SHOW CREATE TABLE) and inserts with INSERT IGNORE, so restoring it twice, or after a
 * restore that was cut short, adds each row once. Every table this is used for has a primary key.
 */
export async function dumpTableRows(server: ServerInfo, url: string, database: string, table: string, createTable: string, where: string,
  outFile: string, options: DumpOptions = {}): Promise<string> {
  const create = createTable.replace(/^CREATE TABLE /, 'CREATE TABLE IF NOT EXISTS ');
  if (create === createTable) throw new Error(`unexpected SHOW CREATE TABLE output for ${table}`);
  const prelude = `/*!40101 SET NAMES utf8mb4 */;\n${create};\n`;
  return dumpToFile(server, url, database, [table], outFile, options, prelude, ['--no-create-info', '--insert-ignore', `--where=${where}`]);
}

async function dumpToFile(server: ServerInfo, url: string, database: string, tables: string[], outFile: string,
  options: DumpOptions, prelude: string, extraArgs: string[]): Promise<string> {
  const { args, env } = connectionArgs(url);
  const dumpArgs = [...args, '--single-transaction', '--skip-lock-tables', '--no-tablespaces', '--skip-add-drop-table',
    '--hex-blob', '--tz-utc', '--skip-comments', '--default-character-set=utf8mb4', ...server.dumpOptions, ...extraArgs, database, ...tables];
  const tmp = `${outFile}.partial`;
  const hash = createHash('sha256');
  if (options.exclusive && fs.existsSync(outFile)) throw new ArtefactExistsError(outFile);
  const { child, exited } = spawnTool(server.dumpCommand, dumpArgs, env);
  child.stdin.end();
  // 'wx': a .partial left by a killed run is removed by the caller (under its lock), never reused.
  const out = fs.createWriteStream(tmp, { flags: options.exclusive ? 'wx' : 'w' });
  const source = prelude ? Readable.from((async function* () { yield Buffer.from(prelude); yield* child.stdout; })()) : child.stdout;
  const written = pipeline(source, zlib.createGzip({ level: 1 }), hashing(hash), out);
  try {
    if (options.onStarted) await options.onStarted();
    await Promise.all([exited, written]);
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    publishFile(tmp, outFile, !!options.exclusive);
  } catch (err) {
    child.kill();
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return hash.digest('hex');
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hashing(hash), new Transform({ transform(_c, _e, cb) { cb(); } }));
  return hash.digest('hex');
}

export interface RestoreOptions {
  /**
   * Keep the restore out of the binary log (sql_log_bin = 0): for a throwaway verification copy,
   * which replicas must not get and which then skips the binlog's write and sync (most of a
   * restore's cost on a server with sync_binlog=1). Needs the privilege to set sql_log_bin.
   */
  skipBinlog?: boolean;
}

/** Restores a .sql.gz dump into a database with the server's own command-line client. */
export async function restoreDump(server: ServerInfo, url: string, database: string, file: string, options: RestoreOptions = {}): Promise<void> {
  const { args, env } = connectionArgs(url);
  const session = options.skipBinlog ? ['--init-command=SET SESSION sql_log_bin = 0'] : [];
  const { child, exited } = spawnTool(server.clientCommand, [...args, '--batch', '--default-character-set=utf8mb4', ...session, database], env);
  child.stdout.resume();
  await Promise.all([exited, pipeline(fs.createReadStream(file), zlib.createGunzip(), child.stdin)]);
}
