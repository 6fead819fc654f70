// Runs .sql files one statement at a time, split exactly as the command-line client matching the
// server would split them, with errors that name the file, line, column, the statement's first
// line, and the server's code and message.
import fs from 'fs';
import { UserError } from '../errors';
import { Connection } from './connection';
import { detectServer, ServerInfo } from './flavour';
import { clientDialectFor, splitSql, SplitOptions, SqlSplitError, SqlStatement } from './splitter';

/** The server rejected a statement: everything before it has run, nothing after it. */
export class SqlRunError extends Error {
  override readonly name = 'SqlRunError';
  readonly line: number;
  readonly column: number;
  /** 0-based, like SqlStatement.index; messages count from 1. */
  readonly statementIndex: number;
  readonly firstLine: string;

  constructor(
    readonly file: string,
    readonly statement: SqlStatement,
    /** e.g. 'ER_NO_SUCH_TABLE' */
    readonly serverCode: string,
    readonly serverErrno: number | undefined,
    readonly sqlState: string | undefined,
    readonly serverMessage: string,
  ) {
    super(`${file}:${statement.line}:${statement.column}: statement ${statement.index + 1} ("${statement.firstLine}") failed: ` +
      `${serverCode}${serverErrno ? ` (${serverErrno})` : ''}: ${serverMessage}`);
    this.line = statement.line;
    this.column = statement.column;
    this.statementIndex = statement.index;
    this.firstLine = statement.firstLine;
  }

  static from(file: string, statement: SqlStatement, err: unknown): SqlRunError {
    const e = err as { code?: string; errno?: number; sqlState?: string; sqlMessage?: string; message?: string };
    return new SqlRunError(file, statement, e.code ?? 'ERROR', e.errno, e.sqlState, e.sqlMessage ?? e.message ?? String(err));
  }
}

/** A file's text: UTF-8 (anything else would reach the server as mangled utf8mb4), without a BOM. */
export function readSqlFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.code ?? e.message;
    throw new UserError(`cannot read ${file}: ${reason}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new UserError(`${file} is not UTF-8 text`);
  }
}

/**
 * How the client matching this connection's server splits files. The dollar-quote check is the
 * probe the MySQL client itself sends on connecting: a server that lexes $$ quotes answers
 * `select $$` with a syntax error instead of "unknown column".
 */
export async function detectClientDialect(conn: Connection): Promise<Required<SplitOptions>> {
  const server = await detectServer(conn);
  return clientDialectFor(server, server.flavour === 'mysql' && await parsesDollarQuotes(conn));
}

async function parsesDollarQuotes(conn: Connection): Promise<boolean> {
  try {
    await conn.query('select $$');
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'ER_PARSE_ERROR';
  }
}

/**
 * Puts the session in the sql_mode the command-line client's session has. mysql2 asks for
 * CLIENT_IGNORE_SPACE on connecting, which makes the server add IGNORE_SPACE to the session's
 * sql_mode; the client does not, and the sql_mode is stored with every routine, trigger and event.
 */
export async function matchClientSqlMode(conn: Connection): Promise<void> {
  await conn.query("SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',IGNORE_SPACE,', ','))");
}

/** Splits SQL the way the client matching this server would (dollar quotes only if known to be parsed). */
export function splitForServer(sql: string, server: ServerInfo, serverParsesDollarQuotes = false): SqlStatement[] {
  return splitSql(sql, clientDialectFor(server, serverParsesDollarQuotes));
}

/** splitSql() whose errors name the file. */
export function splitFile(sql: string, file: string, dialect: SplitOptions): SqlStatement[] {
  try {
    return splitSql(sql, dialect);
  } catch (err) {
    throw err instanceof SqlSplitError ? err.withFile(file) : err;
  }
}

export interface RunOptions {
  /** The file as it should appear in messages, e.g. schema/V0001__x.sql. */
  file: string;
  /** Start at this statement (0-based), e.g. to resume after a failure. */
  fromIndex?: number;
  /** Called after each statement has run, e.g. to record progress. */
  onStatement?(statement: SqlStatement): void | Promise<void>;
}

/** Sends statements one at a time (never several in one query); the first failure stops the run. Returns how many ran. */
export async function runStatements(conn: Connection, statements: SqlStatement[], options: RunOptions): Promise<number> {
  const from = options.fromIndex ?? 0;
  if (!Number.isInteger(from) || from < 0 || from > statements.length) {
    throw new UserError(`${options.file}: cannot start at statement ${from + 1}, the file has ${statements.length} statements`);
  }
  let ran = 0;
  for (const statement of statements.slice(from)) {
    try {
      await conn.query(statement.text);
    } catch (err) {
      // Only the server's refusals are the file's fault; a lost connection stays what it is.
      if ((err as { sqlState?: string }).sqlState === undefined) throw err;
      throw SqlRunError.from(options.file, statement, err);
    }
    ran++;
    await options.onStatement?.(statement);
  }
  return ran;
}

export interface RunFileOptions extends Partial<RunOptions> {
  /** How to split; by default, as the client matching the connection's server does. */
  dialect?: SplitOptions;
}

/**
 * Reads, splits and runs one file as the client matching the server would, in the client's
 * sql_mode (see matchClientSqlMode); returns how many statements ran.
 */
export async function runSqlFile(conn: Connection, path: string, options: RunFileOptions = {}): Promise<number> {
  const file = options.file ?? path;
  const sql = readSqlFile(path);
  const statements = splitFile(sql, file, options.dialect ?? await detectClientDialect(conn));
  await matchClientSqlMode(conn);
  return runStatements(conn, statements, { ...options, file });
}
