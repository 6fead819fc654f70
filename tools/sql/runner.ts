// Runs .sql files one statement at a time, as the command-line client would, with errors that
// name the file, line, column, the statement's first line, and the server's code and message.
import fs from 'fs';
import { UserError } from '../errors';
import { Connection } from './connection';
import { detectServer, ServerInfo } from './flavour';
import { splitSql, SqlStatement } from './splitter';

export class SqlRunError extends Error {
  override readonly name = 'SqlRunError';
  constructor(
    readonly file: string,
    readonly statement: SqlStatement,
    readonly serverCode: string,
    readonly serverErrno: number | undefined,
    readonly sqlState: string | undefined,
    readonly serverMessage: string,
  ) {
    super(`${file}:${statement.line}:${statement.column}: statement ${statement.index + 1} ("${statement.firstLine}") failed: ` +
      `${serverCode}${serverErrno ? ` (${serverErrno})` : ''}: ${serverMessage}`);
  }

  static from(file: string, statement: SqlStatement, err: unknown): SqlRunError {
    const e = err as { code?: string; errno?: number; sqlState?: string; sqlMessage?: string; message?: string };
    return new SqlRunError(file, statement, e.code ?? 'ERROR', e.errno, e.sqlState, e.sqlMessage ?? e.message ?? String(err));
  }
}

export function readSqlFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Splits SQL the way the client matching this server would. */
export function splitForServer(sql: string, server: Pick<ServerInfo, 'clientKeepsComments'>): SqlStatement[] {
  return splitSql(sql, { keepComments: server.clientKeepsComments });
}

export interface RunOptions {
  file: string;
  /** Start at this statement (0-based), e.g. to resume after a failure. */
  fromIndex?: number;
  /** Called after each statement succeeds. */
  onStatement?: (statement: SqlStatement) => void | Promise<void>;
}

/** Sends statements one at a time; the first failure stops the run with an SqlRunError. */
export async function runStatements(conn: Connection, statements: SqlStatement[], options: RunOptions): Promise<number> {
  let done = 0;
  for (const statement of statements.slice(options.fromIndex ?? 0)) {
    try {
      await conn.query(statement.text);
    } catch (err) {
      throw SqlRunError.from(options.file, statement, err);
    }
    done++;
    await options.onStatement?.(statement);
  }
  return done;
}

export async function runSqlFile(conn: Connection, file: string, options: Omit<RunOptions, 'file'> = {}): Promise<number> {
  const statements = splitForServer(readSqlFile(file), await detectServer(conn));
  return runStatements(conn, statements, { ...options, file });
}
