// Connections to MySQL/MariaDB from a URL: the one place that decides how the toolkit talks to a server.
import mysql from 'mysql2/promise';
import { describeError, OperationError, UserError } from '../errors';
import { SCHEMA_CHARSET, SCHEMA_COLLATION } from './charset';

export type Connection = mysql.Connection;

export const DEFAULT_SERVER_URL = 'mysql://root@127.0.0.1:3306';

export interface ConnectOptions {
  /** Override (or remove, with null) the database named in the URL. */
  database?: string | null;
  /** Allow LOAD DATA LOCAL INFILE streams on this connection. */
  localInfile?: boolean;
}

export interface ParsedUrl {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string | null;
  socketPath?: string;
}

/**
 * Parses mysql://user:pass@host:port/db (also mariadb://). A socket is given as ?socket=/path.
 * Throws a UserError naming what is wrong, so a mistyped --url is a one-line reason.
 */
export function parseUrl(url: string): ParsedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`not a database URL: "${redactUrl(url)}" (expected mysql://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new UserError(`unsupported URL scheme "${parsed.protocol}" in "${redactUrl(url)}" (expected mysql://)`);
  }
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UserError(`bad %-encoding in the ${what} of "${redactUrl(url)}"`);
    }
  };
  const database = decode(parsed.pathname.replace(/^\//, ''), 'database name') || null;
  const socketPath = parsed.searchParams.get('socket') ?? undefined;
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decode(parsed.username || 'root', 'user name'),
    password: decode(parsed.password || '', 'password'),
    database,
    socketPath,
  };
}

/** The same URL pointing at another database (or at the server only, with null). */
export function withDatabase(url: string, database: string | null): string {
  parseUrl(url);
  const parsed = new URL(url);
  parsed.pathname = database ? `/${encodeURIComponent(database)}` : '';
  return parsed.toString();
}

/**
 * The text of a URL with its password masked, without parsing it (so also for text that is no URL
 * at all): the user information is everything between "scheme://" and the last "@"; what follows
 * its first ":" is the password.
 */
export function maskPassword(text: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text);
  const start = scheme ? scheme[0].length : 0;
  const at = text.lastIndexOf('@');
  if (at < start) return text;
  const colon = text.indexOf(':', start);
  if (colon === -1 || colon > at) return text;
  return `${text.slice(0, colon + 1)}***${text.slice(at)}`;
}

/** The URL with its password masked, for messages and logs (also when it does not parse). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // A scheme without "//" (root:pw@host) parses with the password in the path: mask the text too.
    return maskPassword(parsed.toString());
  } catch {
    return maskPassword(url);
  }
}

/** Session settings every toolkit connection runs with: UTC, and the character set the schema uses. */
const SESSION_SETUP = ["SET time_zone = '+00:00'", `SET NAMES ${SCHEMA_CHARSET} COLLATE ${SCHEMA_COLLATION}`];

/** Connection errors that mean the URL (user, password, database) is wrong, not the server. */
const CONFIG_ERRORS = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR',
  'ER_WRONG_DB_NAME', 'ER_TOO_LONG_IDENT', 'ER_NOT_SUPPORTED_AUTH_MODE']);

export async function connect(url: string, options: ConnectOptions = {}): Promise<Connection> {
  const target = parseUrl(url);
  const database = options.database === undefined ? target.database : options.database;
  let conn: Connection;
  try {
    conn = await mysql.createConnection({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      socketPath: target.socketPath,
      database: database ?? undefined,
      timezone: 'Z',
      dateStrings: false,
      supportBigNumbers: true,
      bigNumberStrings: false,
      decimalNumbers: false,
      multipleStatements: false,
      charset: SCHEMA_COLLATION,
      connectTimeout: 10_000,
      ...(options.localInfile ? { flags: ['+LOCAL_FILES'] } : {}),
    });
  } catch (err) {
    // Refused credentials or an unknown database are the configuration's fault (exit 1); a server
    // that cannot be reached is a failure (exit 2). Either way one line, with the server's codes.
    const e = err as { code?: string };
    const message = `cannot connect to ${redactUrl(url)}: ${describeError(err)}`;
    throw CONFIG_ERRORS.has(e.code ?? '') ? new UserError(message) : new OperationError(message);
  }
  // A connection error event would otherwise crash the process when idle connections drop.
  conn.on('error', () => undefined);
  for (const statement of SESSION_SETUP) await conn.query(statement);
  return conn;
}

/** Runs fn with a connection that is always closed afterwards. */
export async function withConnection<T>(url: string, fn: (conn: Connection) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const conn = await connect(url, options);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** Quotes an identifier that the toolkit derived itself (never a user string: see campaigns/naming). */
export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z0-9_$]+$/.test(name)) throw new UserError(`refusing a name that is not a plain identifier (letters, digits, _ and $ only): ${JSON.stringify(name)}`);
  return '`' + name + '`';
}

export async function queryRows<T = Record<string, unknown>>(conn: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await conn.query(sql, params);
  return rows as T[];
}
