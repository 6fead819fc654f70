// The server's own command-line client, driven from Node: SQL goes in on stdin exactly as a DBA
// pipes a file into it. The runner is checked against it, and restores reuse it.
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { OperationError, UserError } from '../errors';
import { parseUrl, redactUrl, withConnection } from './connection';
import { detectServer, FlavourCapabilities, ServerInfo } from './flavour';

export interface ClientOptions {
  /** Database to run in: the URL's by default, none with null. */
  database?: string | null;
  /** The server's description when the caller already has it (saves a connection). */
  server?: ServerInfo;
  /** More client options, e.g. ['--force'] or ['--skip-comments']. */
  args?: string[];
  /** --default-character-set; utf8mb4 unless given, null for the client's own default (which follows the locale). */
  defaultCharacterSet?: string | null;
  /** Environment variables for the client (e.g. LC_ALL), on top of this process's. */
  env?: NodeJS.ProcessEnv;
}

export interface ClientResult {
  /** The client that ran, e.g. 'mariadb'. */
  command: string;
  stdout: string;
  stderr: string;
}

/** The client ran and exited non-zero: its stderr says why (e.g. "ERROR 1064 (42000) at line 3: ..."). */
export class ClientFailedError extends OperationError {
  constructor(readonly command: string, readonly status: number | null, readonly stdout: string, readonly stderr: string) {
    super(`${command} exited with ${status ?? 'a signal'}: ${errorLines(stderr)}`);
  }
}

/** MariaDB's client frames the failed statement in dashes before its ERROR line: the message keeps the ERROR lines. */
function errorLines(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /^ERROR\b/.test(l));
  return (errors.length ? errors : lines.slice(-3)).join(' / ') || '(no message)';
}

/** How the client and dump tools reach the URL's server. */
function connectionArgs(url: string): string[] {
  const target = parseUrl(url);
  return [
    ...(target.socketPath
      ? [`--socket=${target.socketPath}`]
      : ['--protocol=TCP', `--host=${target.host}`, `--port=${target.port}`]),
    `--user=${target.user}`,
  ];
}

/** The password goes through the environment, never the command line (visible in ps). */
function toolEnvironment(url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.MYSQL_PWD;
  const { password } = parseUrl(url);
  if (password) env.MYSQL_PWD = password;
  return env;
}

/**
 * Dumps the URL's database with the server's own dump tool (mariadb-dump, mysqldump) and the
 * options given, plus those the server needs (ServerInfo.dumpOptions), into `outFile`.
 */
export async function dumpWithTool(url: string, outFile: string, args: string[], server: ServerInfo): Promise<void> {
  const database = parseUrl(url).database;
  if (!database) throw new UserError(`the URL must name the database to dump: ${redactUrl(url)}`);
  if (!findOnPath(server.dumpCommand)) throw new UserError(`${server.dumpCommand} not found on PATH`);
  const out = fs.openSync(outFile, 'w');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(server.dumpCommand, [...connectionArgs(url), ...server.dumpOptions, ...args, database],
        { env: toolEnvironment(url), stdio: ['ignore', out, 'pipe'] });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      child.on('error', (err) => reject(new OperationError(`cannot run ${server.dumpCommand}: ${err.message}`)));
      child.on('close', (status) => (status === 0 ? resolve()
        : reject(new OperationError(`${server.dumpCommand} exited with ${status ?? 'a signal'}: ${errorLines(stderr)}`))));
    });
  } finally {
    fs.closeSync(out);
  }
}

/** The path of an executable on PATH, or null. */
export function findOnPath(command: string, searchPath = process.env.PATH ?? ''): string | null {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The first of the server's client names (clientCommands, e.g. mariadb, else mysql) that runs
 * here, with its version line, or why there is none.
 */
export function findClient(server: Pick<FlavourCapabilities, 'clientCommands'>): { command: string; version: string } | { error: string } {
  for (const command of server.clientCommands) {
    const r = spawnSync(command, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { command, version: r.stdout.trim() };
  }
  return { error: `no ${server.clientCommands.join(' or ')} client on PATH` };
}

function clientMissing(server: ServerInfo): UserError {
  const { label, name } = server.clientPackage;
  return new UserError(`${server.clientCommand} not found on PATH: the ${server.flavour} ${server.version} server needs its own client, from ${label} (${name})`);
}

/** Pipes sqlText (text, or a file's bytes) into the client matching the server, in batch mode; resolves with its output, rejects on a non-zero exit. */
export async function runWithClient(url: string, sqlText: string | Buffer, options: ClientOptions = {}): Promise<ClientResult> {
  const target = parseUrl(url);
  const server = options.server ?? await withConnection(url, detectServer, { database: null });
  const command = server.clientCommand;
  if (!findOnPath(command)) throw clientMissing(server);

  const database = options.database === undefined ? target.database : options.database;
  // Files and databases are utf8mb4; the client's default follows the locale.
  const characterSet = options.defaultCharacterSet === undefined ? 'utf8mb4' : options.defaultCharacterSet;
  const args = [
    ...connectionArgs(url),
    '--batch',
    ...(characterSet ? [`--default-character-set=${characterSet}`] : []),
    ...(options.args ?? []),
    ...(database ? [`--database=${database}`] : []),
  ];
  const env = toolEnvironment(url, options.env);

  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? clientMissing(server) : new OperationError(`cannot run ${command} for ${redactUrl(url)}: ${err.message}`));
    });
    child.on('close', (status) => {
      if (status === 0) resolve({ command, stdout, stderr });
      else reject(new ClientFailedError(command, status, stdout, stderr));
    });
    // The client may exit before reading everything (e.g. on the first error): that is its answer, not ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(sqlText);
  });
}
