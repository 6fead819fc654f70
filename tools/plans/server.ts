// Which server the plans are captured on. MySQL: the server at --url when its performance_schema
// is on (the default; its optimizer trace is per session). MariaDB: always a private server from
// the local mariadbd, started with the slow log written to a file this process reads — the shared
// server's logging is left alone, and its performance_schema (off on Debian's default) does not matter.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { OperationError, UserError } from '../errors';
import { PrivateServer, serverSupportsPrivateStart, startPrivateServer } from '../harness/private-server';
import { redactUrl, withConnection, withDatabase } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { queryRows } from '../sql/connection';

export interface CaptureServer {
  /** Server URL (no database). */
  url: string;
  server: ServerInfo;
  /** MariaDB: the slow log file the private server writes. */
  slowLogFile?: string;
  /** How it was chosen, for the report. */
  description: string;
  stop(): Promise<void>;
}

export interface CaptureServerOptions {
  /** 'auto' (default): the given server when it can capture, else a private one; true: always private. */
  privateServer?: boolean | 'auto';
  /** Server binary for a private server (default: mariadbd, else mysqld, on PATH or in /usr/sbin). */
  binary?: string;
  log?: (line: string) => void;
}

/** Server options a private capture server starts with: what its way of capturing statements needs. */
export function privateServerArgs(capture: ServerInfo['statementCapture'], slowLogFile: string): string[] {
  return capture === 'slow-log'
    ? ['--slow-query-log=ON', '--log-output=FILE', `--slow-query-log-file=${slowLogFile}`]
    : ['--performance-schema=ON', '--performance-schema-consumer-events-statements-history-long=ON',
      '--performance-schema-max-sql-text-length=65536', '--log-bin', '--binlog-format=MIXED'];
}

async function canCaptureHere(url: string, server: ServerInfo): Promise<string | null> {
  if (server.statementCapture === 'slow-log') {
    return 'MariaDB shows stored-program statements only in its slow log, which the plan check reads from a private server it starts';
  }
  const [row] = await withConnection(url, (conn) => queryRows<{ ps: number }>(conn, 'SELECT @@global.performance_schema AS ps'), { database: null });
  return Number(row.ps) === 1 ? null : 'its performance_schema is off (it needs a restart to turn on)';
}

export async function acquireCaptureServer(url: string, options: CaptureServerOptions = {}): Promise<CaptureServer> {
  const serverUrl = withDatabase(url, null);
  const given = await withConnection(serverUrl, detectServer, { database: null });
  const mode = options.privateServer ?? 'auto';
  const reason = mode === true ? 'asked for a private server' : await canCaptureHere(serverUrl, given);
  if (!reason) {
    return { url: serverUrl, server: given, description: `${given.flavour} ${given.version} at ${redactUrl(serverUrl)}`, stop: async () => undefined };
  }
  if (!serverSupportsPrivateStart(options.binary)) {
    throw new OperationError(`cannot capture plans on ${redactUrl(serverUrl)} (${reason}), and no local server binary to start a private ${given.flavour} server`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-plans-'));
  const slowLogFile = path.join(dir, 'capture-slow.log');
  let started: PrivateServer;
  try {
    started = await startPrivateServer({ binary: options.binary, label: 'plans', args: privateServerArgs(given.statementCapture, slowLogFile) });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const stop = async () => {
    await started.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const server = await withConnection(started.url, detectServer, { database: null });
    if (server.flavour !== given.flavour) {
      throw new UserError(`the local server binary is ${server.flavour} ${server.version}, but ${redactUrl(serverUrl)} is ${given.flavour}: `
        + 'plans are checked per flavour (give --server-binary)');
    }
    options.log?.(`capturing on a private ${server.flavour} ${server.version} (${reason})`);
    return {
      url: started.url, server, slowLogFile: server.statementCapture === 'slow-log' ? slowLogFile : undefined,
      description: `private ${server.flavour} ${server.version} (${reason})`, stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
