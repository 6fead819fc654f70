// The server's own command-line client, driven from Node: SQL goes in on stdin exactly as a DBA
// pipes a file into it. The runner is checked against it, and restores reuse it.
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { OperationError, UserError } from '../errors';
import { parseUrl, redactUrl, withConnection } from './connection';
import { detectServer, ServerInfo } from './flavour';

export interface ClientOptions {
  /** Database to run in: the URL's by default, none with null. */
  database?: string | null;
  /** The server's description when the caller already has it (saves a connection). */
  server?: ServerInfo;
  /** More client options, e.g. ['--force'] or ['--skip-comments']. */
  args?: string[];
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

function clientMissing(server: ServerInfo): UserError {
  const pkg = server.flavour === 'mariadb' ? 'the MariaDB client package (mariadb-client)' : 'the MySQL client package (mysql-client)';
  return new UserError(`${server.clientCommand} not found on PATH: the ${server.flavour} ${server.version} server needs its own client, from ${pkg}`);
}

/** Pipes sqlText into the client matching the server, in batch mode; resolves with its output, rejects on a non-zero exit. */
export async function runWithClient(url: string, sqlText: string, options: ClientOptions = {}): Promise<ClientResult> {
  const target = parseUrl(url);
  const server = options.server ?? await withConnection(url, detectServer, { database: null });
  const command = server.clientCommand;
  if (!findOnPath(command)) throw clientMissing(server);

  const database = options.database === undefined ? target.database : options.database;
  const args = [
    ...(target.socketPath
      ? [`--socket=${target.socketPath}`]
      : ['--protocol=TCP', `--host=${target.host}`, `--port=${target.port}`]),
    `--user=${target.user}`,
    '--batch',
    // Files and databases are utf8mb4; the client's default follows the locale.
    '--default-character-set=utf8mb4',
    ...(options.args ?? []),
    ...(database ? [`--database=${database}`] : []),
  ];
  // The password goes through the environment, never the command line (visible in ps).
  const env = { ...process.env };
  delete env.MYSQL_PWD;
  if (target.password) env.MYSQL_PWD = target.password;

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
