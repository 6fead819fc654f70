// Runs .sql files one statement at a time, split exactly as the command-line client matching the
// server would split them, with errors that name the file, line, column, the statement's first
// line, and the server's code and message.
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';
import { Connection } from './connection';
import { clientDefaultCharacterSet, detectServer, ServerFlavour, ServerInfo } from './flavour';
import { localeCodeset } from './locale';
import { clientDialectFor, splitSql, splitSqlBytes, SplitOptions, SqlSplitError, SqlStatement, SourcedFile } from './splitter';

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
    super(`${statement.file ?? file}:${statement.line}:${statement.column}: statement ${statement.index + 1} ("${statement.firstLine}") failed: ` +
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

/** A file's bytes, or a one-line UserError saying why it cannot be read. */
export function readSqlBytes(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${readFailure(err)}`);
  }
}

function readFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : e.code ?? e.message;
}

/**
 * A file's text for callers that need text (migrations are UTF-8 by the project's rules: anything
 * else would reach the server as mangled utf8mb4), without a BOM. `sql run` reads bytes instead.
 */
export function readSqlFile(file: string): string {
  const bytes = readSqlBytes(file);
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
  return clientDialectFor(server, server.clientProbesDollarQuotes && await parsesDollarQuotes(conn));
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

/**
 * How the client opens the file SOURCE names: as given, so a relative path is relative to the
 * current directory (not to the file that names it); `~/` is the home directory (unpack_filename()).
 */
export function openSourcedFile(name: string): SourcedFile {
  const resolved = path.resolve(name.startsWith('~/') ? path.join(process.env.HOME ?? '~', name.slice(2)) : name);
  let bytes: Buffer;
  let key: string;
  try {
    bytes = fs.readFileSync(resolved);
    key = fs.realpathSync(resolved);
  } catch (err) {
    throw new Error(readFailure(err));
  }
  return { file: name, key, bytes };
}

/** A file split as bytes, as the client reads it (SOURCE included where the client runs it); errors name the file. */
export function splitFileBytes(bytes: Buffer, file: string, dialect: SplitOptions, key = file): SqlStatement[] {
  try {
    return splitSqlBytes(bytes, { ...dialect, file, key, openSource: openSourcedFile });
  } catch (err) {
    throw err instanceof SqlSplitError ? err.withFile(file) : err;
  }
}

/** The real path of a file given on the command line, to recognise it when SOURCE names it again. */
export function fileKey(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/** The session character set a run uses, and why. */
export interface ClientCharacterSet {
  name: string;
  /** e.g. "the mariadb client's default in this locale (UTF-8)" or "--default-character-set". */
  reason: string;
}

/**
 * The character set the client matching the server would start its session in: the one asked
 * for (--default-character-set), else the client's default for the locale (see
 * flavour.clientDefaultCharacterSet).
 */
export function chooseClientCharacterSet(flavour: ServerFlavour, clientCommand: string, asked?: string, env: NodeJS.ProcessEnv = process.env): ClientCharacterSet {
  if (asked) return { name: asked, reason: 'asked for with --default-character-set' };
  const codeset = localeCodeset(env);
  return {
    name: clientDefaultCharacterSet(flavour, codeset),
    reason: `the ${clientCommand} client's default ${codeset === null ? 'when the locale cannot be set' : `for the locale's codeset ${codeset}`}`,
  };
}

/**
 * Character sets whose multi-byte characters may have an ASCII byte (a backslash, a quote) as a
 * second byte: the client reads those with the character set's rules, the splitter does not.
 */
const ASCII_TRAIL_CHARACTER_SETS = new Set(['big5', 'cp932', 'gbk', 'gb18030', 'sjis']);

/**
 * The session the command-line client has: its character set (SET NAMES gives the collation the
 * client's handshake gives, the character set's default), the server's time zone (the toolkit's
 * connections use UTC; the client leaves the server's), and its sql_mode (matchClientSqlMode).
 */
export async function matchClientSession(conn: Connection, characterSet: string): Promise<void> {
  if (!/^[A-Za-z0-9_]+$/.test(characterSet)) throw new UserError(`not a character set name: "${characterSet}"`);
  if (ASCII_TRAIL_CHARACTER_SETS.has(characterSet.toLowerCase())) {
    throw new UserError(`character set ${characterSet} is not supported: its multi-byte characters can contain quotes and backslashes, which the runner would misread (use utf8mb4 or a single-byte character set)`);
  }
  try {
    await conn.query(`SET NAMES ${characterSet}`);
  } catch (err) {
    const e = err as { code?: string; sqlMessage?: string };
    if (e.code === 'ER_UNKNOWN_CHARACTER_SET') throw new UserError(`unknown character set "${characterSet}" (the server says: ${e.sqlMessage})`);
    throw err;
  }
  await conn.query('SET time_zone = @@GLOBAL.time_zone');
  await matchClientSqlMode(conn);
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
  for (let i = from; i < statements.length; i++) {
    const statement = statements[i];
    try {
      await (statement.bytes ? sendBytes(conn, statement.bytes) : conn.query(statement.text));
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

/** mysql2's character set number whose encoding writes a string's characters as bytes unchanged. */
const BINARY_CHARSET_NUMBER = 63;

/**
 * Sends a statement's bytes as they are, as the client does: mysql2 encodes the SQL string in
 * the encoding of the connection's handshake character set, so for this one packet the bytes go
 * as latin1 characters through the 'binary' encoding. The session's character set is the
 * server's business (SET NAMES), not mysql2's.
 */
async function sendBytes(conn: Connection, bytes: Buffer): Promise<void> {
  const config = (conn as unknown as { connection: { config: MysqlConfig } }).connection.config;
  const { charsetNumber, queryFormat } = config;
  config.charsetNumber = BINARY_CHARSET_NUMBER;
  // Nor does it look for ? placeholders in a statement that has no values (a scan of every byte).
  config.queryFormat = sentAsIs;
  try {
    await conn.query(bytes.toString('latin1'));
  } finally {
    config.charsetNumber = charsetNumber;
    config.queryFormat = queryFormat;
  }
}

interface MysqlConfig {
  charsetNumber: number;
  queryFormat?: (sql: string) => string;
}

const sentAsIs = (sql: string) => sql;

export interface RunFileOptions extends Partial<RunOptions> {
  /** How to split; by default, as the client matching the connection's server does. */
  dialect?: SplitOptions;
  /**
   * Put the session in the client's state with this character set first (matchClientSession);
   * by default the connection keeps its character set and time zone.
   */
  characterSet?: string;
}

/**
 * Reads, splits and runs one file's bytes as the client matching the server would, in the
 * client's sql_mode (see matchClientSqlMode); returns how many statements ran.
 */
export async function runSqlFile(conn: Connection, filePath: string, options: RunFileOptions = {}): Promise<number> {
  const file = options.file ?? filePath;
  const bytes = readSqlBytes(filePath);
  const statements = splitFileBytes(bytes, file, options.dialect ?? await detectClientDialect(conn), fileKey(filePath));
  if (options.characterSet) await matchClientSession(conn, options.characterSet);
  else await matchClientSqlMode(conn);
  return runStatements(conn, statements, { ...options, file });
}
