// Applies, reverts and repairs migrations under the schema lock. Multi-step operations return a
// result per file (applied / failed / not executed) instead of throwing away what was done.
import { OperationError, UserError } from '../errors';
import { connect, Connection, parseUrl, quoteIdentifier, withConnection } from '../sql/connection';
import { acquireSchemaLock, DEFAULT_LOCK_TIMEOUT_SECONDS, releaseSchemaLock, schemaLockHolder } from '../sql/schema-lock';
import { SqlStatement } from '../sql/splitter';
import { splitForServer, SqlRunError } from '../sql/runner';
import { detectServer, ServerInfo } from '../sql/flavour';
import { describeMissingGrant, missingRoutineGrants } from '../users/routine-grants';
import { defaultMigrationHooks } from './default-hooks';
import { HookContext, HookResult, hooksNotExecuted, MigrationHook, runHooks } from './hooks';
import { ddlEffect } from './ddl-effect';
import { failpoint } from './failpoint';
import { historyProblems, HistoryState, readHistoryState } from './history';
import {
  DB_MIGRATE_TABLE, ensureLedger, LEDGER_TABLE, LedgerEntry, readLedger, progressStatement, recordApplied, recordFailure,
  recordInterruption, recordProgress, recordReverted, recordStart,
} from './ledger';
import { createdRoutine, routineStatements } from './routines';
import { discoverMigrations, MigrationSource, readSql } from './sources';
import { projectRoot } from '../project';
import { fileAllowsLedgerTransactions, statementKind } from './statement-kind';
import { compareWithLedger, FileStatus, validationProblems } from './status';
import { DATABASE_OPTIONS } from '../sql/charset';
import { StillRunning, stillRunningMessage, stillRunningOnServer } from './still-running';

export interface MigrationResult {
  name: string;
  kind: MigrationSource['kind'];
  outcome: 'applied' | 'reverted' | 'failed' | 'not-executed';
  /** Statements run in this attempt. */
  statements: number;
  /** Where the attempt started (non-zero when resumed). */
  startedAt: number;
  error?: string;
  ms: number;
}

export interface RunReport {
  database: string;
  results: MigrationResult[];
  /** What each hook did after the files (campaign set upgrades, routine grants); empty for `down`. */
  hooks: HookResult[];
  /** False when a file or a hook failed. */
  ok: boolean;
}

export interface CommonOptions {
  url: string;
  root?: string;
  lockTimeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface UpOptions extends CommonOptions {
  /** Stop after this version (repeatable files are then left for a later run). */
  to?: number;
  /** Resume a failed or interrupted file from the statement that did not complete. */
  resume?: boolean;
  quiet?: boolean;
  /** What runs besides the files; default: defaultMigrationHooks(). */
  hooks?: MigrationHook[];
}

function databaseOf(url: string): string {
  const { database } = parseUrl(url);
  if (!database) throw new UserError(`the URL must name a database (mysql://user@host:port/DATABASE)`);
  quoteIdentifier(database); // refuses, as a UserError, a name that is not a plain identifier
  return database;
}

async function databaseExists(url: string, database: string): Promise<boolean> {
  return withConnection(url, async (conn) => {
    const [rows] = await conn.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
    return (rows as unknown[]).length > 0;
  }, { database: null });
}

interface Session {
  database: string;
  /** Holds the lock and writes the ledger, so a migration's own transactions never include bookkeeping. */
  books: Connection;
  /** Runs the migration statements. */
  work: Connection;
  /** CONNECTION_ID() of `work`, kept in the ledger while a file runs. */
  workThread: number;
  server: ServerInfo;
  history: HistoryState;
  root: string;
}

async function connectionId(conn: Connection): Promise<number> {
  const [[row]] = await conn.query('SELECT CONNECTION_ID() AS id') as unknown as [[{ id: number }]];
  return Number(row.id);
}

/**
 * Under the schema lock, before anything changes: refuse while a killed run's statement is still
 * executing on the server, and (unless the ledger is being rebuilt) while the ledger and the
 * migrations table disagree. Only then is a missing ledger created (by a rebuild, only when it writes).
 */
async function withLockedSession<T>(options: CommonOptions, createDatabase: boolean, fn: (s: Session) => Promise<T>,
  purpose: 'migrate' | 'rebuild-ledger' = 'migrate'): Promise<T> {
  const database = databaseOf(options.url);
  const exists = await databaseExists(options.url, database);
  if (createDatabase && !exists) {
    // Only when missing: on MySQL, CREATE DATABASE IF NOT EXISTS on an existing database waits for
    // every transaction open in it, so a killed run's statement still executing would hold `up`
    // here, silently, instead of the still-running check below naming it.
    await withConnection(options.url, (conn) =>
      conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)} ${DATABASE_OPTIONS}`),
    { database: null });
  } else if (!exists) {
    throw new UserError(`database ${database} does not exist`);
  }
  const books = await connect(options.url);
  let work: Connection | undefined;
  try {
    await acquireSchemaLock(books, database, options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS,
      (holder) => options.log?.(`waiting for the schema lock on ${database} (held by connection ${holder})`));
    try {
      work = await connect(options.url);
      const workThread = await connectionId(work);
      const history = await readHistoryState(books);
      const ledger = history.ledgerExists ? await readLedger(books) : [];
      const running = await stillRunningOnServer(books, ledger, [workThread, await connectionId(books)]);
      if (running) throw new OperationError(stillRunningMessage(running));
      const root = options.root ?? projectRoot();
      if (purpose === 'migrate') {
        const problems = historyProblems(history, ledger, discoverMigrations(root));
        if (problems.length) throw new UserError(`refusing to migrate: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more: \`migrate validate\`)` : ''}`);
      }
      if (purpose === 'migrate') await ensureLedger(books);
      return await fn({ database, books, work, workThread, server: await detectServer(work), history, root });
    } finally {
      await releaseSchemaLock(books, database).catch(() => undefined);
    }
  } finally {
    await work?.end().catch(() => work?.destroy());
    await books.end().catch(() => books.destroy());
  }
}

function statementsOf(server: ServerInfo, source: MigrationSource, sql = source.sql): SqlStatement[] {
  const statements = splitForServer(sql, server);
  return source.kind === 'repeatable' && sql === source.sql ? routineStatements(server, statements) : statements;
}

/** A DML statement and its "statement i done" row commit together: after a kill, both or neither are there. */
async function runWithProgress(s: Session, name: string, statement: SqlStatement, done: number): Promise<void> {
  await s.work.beginTransaction();
  try {
    await s.work.query(statement.text);
    await s.work.query(...progressStatement(name, done));
    await s.work.commit();
  } catch (err) {
    await s.work.rollback().catch(() => undefined);
    throw err;
  }
}

/**
 * Runs statements from `from`, recording progress after each so a killed run leaves an exact
 * trace; DML statements record it in their own transaction (unless the file manages transactions
 * itself). After each routine a repeatable file creates, the hooks' afterRoutine runs on the same
 * connection (the grants go back before the next statement).
 */
async function applyStatements(s: Session, source: MigrationSource, statements: SqlStatement[], from: number,
  file: string, hooks: readonly MigrationHook[] = [], ctx?: HookContext): Promise<{ done: number; error?: string }> {
  const transactional = source.kind === 'versioned' && fileAllowsLedgerTransactions(statements.map((st) => st.text));
  for (let i = from; i < statements.length; i++) {
    const statement = statements[i];
    try {
      if (transactional && statementKind(statement.text) === 'dml') {
        await runWithProgress(s, source.name, statement, i + 1);
      } else {
        await s.work.query(statement.text);
        const routine = source.kind === 'repeatable' && file === source.path ? createdRoutine(statement.text) : null;
        if (routine) {
          failpoint('after-routine-recreate');
          for (const hook of hooks) await hook.afterRoutine?.(s.work, ctx!, routine);
        }
        await recordProgress(s.books, source.name, i + 1);
      }
    } catch (err) {
      if (err instanceof OperationError) return { done: i, error: `${file}: ${err.message}` };
      return { done: i, error: SqlRunError.from(file, statement, err).message };
    }
    failpoint(`after-statement-${i + 1}`);
  }
  return { done: statements.length };
}

/**
 * Where an interrupted versioned file resumes: the statement the run died in is run again only
 * when that cannot apply it twice. A DML statement's transaction committed with its ledger row or
 * not at all, so it runs again; a DDL statement is looked up in the catalogue; anything else the
 * catalogue cannot confirm leaves the file interrupted with the reason.
 */
async function resumePoint(s: Session, source: MigrationSource, statements: SqlStatement[], from: number,
  log: (line: string) => void): Promise<number> {
  const statement = statements[from];
  if (!statement) return from;
  const kind = statementKind(statement.text);
  let reason: string | null = null;
  if (kind === 'ddl') {
    const verdict = await ddlEffect(s.work, statement.text);
    if (verdict.state === 'applied') {
      log(`${source.name}.sql: statement ${from + 1} took effect before the run died (the catalogue shows it): marked done`);
      await recordProgress(s.books, source.name, from + 1);
      return from + 1;
    }
    if (verdict.state === 'undecidable') reason = verdict.reason;
  } else if (kind === 'call') {
    reason = 'a CALL may have changed data before the run died';
  } else if (kind === 'dml' && !fileAllowsLedgerTransactions(statements.map((st) => st.text))) {
    reason = 'the file manages its own transactions, so this statement may have committed';
  }
  if (reason) {
    await recordInterruption(s.books, source.name, reason);
    throw new UserError(`cannot resume ${source.name}.sql at statement ${from + 1} ("${statement.firstLine}"): ${reason} — ` +
      `check by hand; complete the file and run \`migrate repair ${source.name}\``);
  }
  return from;
}

/** The files `up` would apply, in order, and where each starts; throws when the history forbids going on. */
function workList(statuses: FileStatus[], sources: MigrationSource[], options: Pick<UpOptions, 'to' | 'resume'>) {
  const problems = validationProblems(statuses).filter((p) => {
    const st = statuses.find((s) => s.name === p.name)!;
    // A repeatable file is re-applied whole, so a run killed inside one needs no --resume.
    if (st.kind === 'repeatable' && st.state === 'interrupted') return false;
    return !(options.resume && (st.state === 'failed' || st.state === 'interrupted'));
  });
  if (problems.length) {
    const first = problems[0];
    const hint = /failed|interrupted/.test(first.problem)
      ? ` — fix the file, then run \`migrate up --resume\` (continues at that statement) or \`migrate repair ${first.name}\` (you completed it by hand)`
      : ` — run \`migrate validate\` for the full list`;
    throw new UserError(`refusing to migrate: ${first.name}.sql ${first.problem}${hint}`);
  }
  const byName = new Map(sources.map((s) => [s.name, s]));
  const todo: { source: MigrationSource; from: number; interrupted?: boolean }[] = [];
  const versionedLeft = statuses.filter((s) => s.kind === 'versioned' && s.state !== 'applied');
  for (const st of versionedLeft) {
    if (options.to !== undefined && st.version! > options.to) continue;
    todo.push({ source: byName.get(st.name)!, from: st.resumeAt ?? 0, interrupted: st.state === 'interrupted' });
  }
  const allVersionedDone = versionedLeft.every((st) => options.to === undefined || st.version! <= options.to);
  if (allVersionedDone) {
    for (const st of statuses) {
      if (st.kind === 'repeatable' && st.state !== 'applied' && st.state !== 'missing') {
        // Repeatable files start with DROP ... IF EXISTS: a failed one is simply applied again whole.
        todo.push({ source: byName.get(st.name)!, from: 0 });
      }
    }
  }
  return todo;
}

/**
 * Runs each item in order until one fails; the items after it are reported not executed. The one
 * loop of `up` and `down`.
 */
async function runInOrder<T extends { source: MigrationSource }>(items: T[],
  runOne: (item: T) => Promise<MigrationResult>): Promise<{ results: MigrationResult[]; failed: boolean }> {
  const results: MigrationResult[] = [];
  let failed = false;
  for (const item of items) {
    if (failed) {
      results.push({ name: item.source.name, kind: item.source.kind, outcome: 'not-executed', statements: 0, startedAt: 0, ms: 0 });
      continue;
    }
    const result = await runOne(item);
    failed = result.outcome === 'failed';
    results.push(result);
  }
  return { results, failed };
}

export async function migrateUp(options: UpOptions): Promise<RunReport> {
  const log = options.quiet ? () => undefined : (options.log ?? (() => undefined));
  const sources = discoverMigrations(options.root ?? projectRoot());
  const hooks = options.hooks ?? defaultMigrationHooks();
  return withLockedSession({ ...options, log }, true, async (s) => {
    const ledger = await readLedger(s.books);
    const statuses = compareWithLedger(sources, ledger, false);
    const todo = workList(statuses, sources, options);
    const ctx: HookContext = { database: s.database, root: s.root, stoppedAt: options.to, quiet: Boolean(options.quiet) };
    if (todo.some((t) => t.source.kind === 'repeatable')) {
      for (const hook of hooks) await hook.beforeRoutines?.(s.work, ctx);
    }
    const { results, failed } = await runInOrder(todo, async ({ source, from: recorded, interrupted }) => {
      const started = Date.now();
      const statements = statementsOf(s.server, source);
      if (recorded > statements.length) {
        throw new UserError(`${source.name}.sql: cannot resume at statement ${recorded + 1}, the file now has ${statements.length} statements`);
      }
      const from = interrupted && source.kind === 'versioned' ? await resumePoint(s, source, statements, recorded, log) : recorded;
      log(`applying ${source.name}.sql${from ? ` from statement ${from + 1}` : ''} (${statements.length - from} statements)`);
      await recordStart(s.books, source, statements.length, from, s.workThread);
      const outcome = await applyStatements(s, source, statements, from, source.path, hooks, ctx);
      const base = { name: source.name, kind: source.kind, startedAt: from, ms: Date.now() - started };
      if (outcome.error) {
        await recordFailure(s.books, source.name, outcome.done, outcome.error);
        return { ...base, outcome: 'failed', statements: outcome.done - from, error: outcome.error };
      }
      await recordApplied(s.books, source, statements.length);
      return { ...base, outcome: 'applied', statements: statements.length - from };
    });
    const hookResults = failed ? hooksNotExecuted(hooks) : await runHooks(s.work, ctx, hooks);
    return { database: s.database, results, hooks: hookResults, ok: !failed && hookResults.every((h) => h.outcome !== 'failed') };
  });
}

export interface DownOptions extends CommonOptions {
  count: number;
}

export async function migrateDown(options: DownOptions): Promise<RunReport> {
  if (!Number.isInteger(options.count) || options.count < 1) throw new UserError(`--count must be a positive whole number, got ${options.count}`);
  const log = options.log ?? (() => undefined);
  const sources = discoverMigrations(options.root ?? projectRoot());
  return withLockedSession(options, false, async (s) => {
    const statuses = compareWithLedger(sources, await readLedger(s.books), false);
    const problems = validationProblems(statuses);
    if (problems.length) throw new UserError(`refusing to revert: ${problems[0].name}.sql ${problems[0].problem}`);
    const applied = statuses.filter((st) => st.kind === 'versioned' && st.state === 'applied').sort((a, b) => b.version! - a.version!);
    const targets = applied.slice(0, options.count).map((st) => sources.find((src) => src.name === st.name)!);
    const withoutDown = targets.filter((t) => !t.downPath);
    if (withoutDown.length) throw new UserError(`${withoutDown[0].name}.sql has no down file (${withoutDown[0].name}.down.sql); nothing was reverted`);
    const { results, failed } = await runInOrder(targets.map((source) => ({ source })), async ({ source }) => {
      const started = Date.now();
      const statements = statementsOf(s.server, source, readSql(source.downPath!));
      log(`reverting ${source.name}.sql (${statements.length} statements)`);
      const outcome = await applyStatements(s, source, statements, 0, source.downPath!);
      const base = { name: source.name, kind: source.kind, startedAt: 0, ms: Date.now() - started };
      if (outcome.error) {
        await recordFailure(s.books, source.name, 0, `down file failed: ${outcome.error}`);
        return { ...base, outcome: 'failed', statements: outcome.done, error: outcome.error };
      }
      await recordReverted(s.books, source.name);
      return { ...base, outcome: 'reverted', statements: statements.length };
    });
    return { database: s.database, results, hooks: [], ok: !failed };
  });
}

export interface StatusReport {
  database: string;
  exists: boolean;
  files: FileStatus[];
  /** Where the ledger and db-migrate's migrations table disagree (history.ts). */
  history: string[];
  /** Expected routine grants the registered users lack, or why they could not be read. */
  grants: string[];
  /** A killed run's statement the server is still executing. */
  stillRunning: StillRunning | null;
}

/** What the ledger and the checkout say, without changing anything (a missing database is all pending). */
export async function migrationStatus(options: CommonOptions): Promise<StatusReport> {
  const database = databaseOf(options.url);
  const root = options.root ?? projectRoot();
  const sources = discoverMigrations(root);
  if (!(await databaseExists(options.url, database))) {
    return { database, exists: false, files: compareWithLedger(sources, [], false), history: [], grants: [], stillRunning: null };
  }
  return withConnection(options.url, async (conn) => {
    const state = await readHistoryState(conn);
    const ledger: LedgerEntry[] = state.ledgerExists ? await readLedger(conn) : [];
    const stillRunning = await stillRunningOnServer(conn, ledger, [await connectionId(conn)]);
    const running = stillRunning !== null || (await schemaLockHolder(conn, database)) !== null;
    const grantState = await missingRoutineGrants(conn, database, root);
    const grants = 'missing' in grantState ? grantState.missing.map(describeMissingGrant) : [grantState.unknown];
    return { database, exists: true, files: compareWithLedger(sources, ledger, running), history: historyProblems(state, ledger, sources), grants, stillRunning };
  });
}

export interface PlannedFile {
  name: string;
  path: string;
  from: number;
  statements: SqlStatement[];
}

/** Exactly the statements `up` would run now, read-only. */
export async function planUp(options: UpOptions): Promise<PlannedFile[]> {
  const sources = discoverMigrations(options.root ?? projectRoot());
  const { files } = await migrationStatus(options);
  const server = await withConnection(options.url, detectServer, { database: null });
  return workList(files, sources, options).map(({ source, from }) => ({
    name: source.name, path: source.path, from, statements: statementsOf(server, source).slice(from),
  }));
}

export async function repairMigration(options: CommonOptions & { name: string }): Promise<string> {
  const sources = discoverMigrations(options.root ?? projectRoot());
  return withLockedSession(options, false, async (s) => {
    const statuses = compareWithLedger(sources, await readLedger(s.books), false);
    const status = statuses.find((st) => st.name === options.name);
    if (!status) throw new UserError(`no migration named ${options.name} in this checkout or the ledger`);
    const source = sources.find((src) => src.name === options.name);
    if (status.state === 'missing' || !source) throw new UserError(`${options.name}.sql is not in this checkout; restore the file before repairing it`);
    if (!['failed', 'interrupted', 'changed'].includes(status.state)) {
      throw new UserError(`${options.name}.sql is ${status.state}: nothing to repair`);
    }
    await recordApplied(s.books, source, statementsOf(s.server, source).length);
    return status.state === 'changed'
      ? `${options.name}.sql: accepted the edited file's checksum as applied`
      : `${options.name}.sql: marked applied (you completed the statements from ${status.resumeAt! + 1} by hand)`;
  });
}

export function assertMigrated(report: RunReport): void {
  const failed = report.results.find((r) => r.outcome === 'failed');
  if (failed) throw new OperationError(failed.error ?? `${failed.name} failed`);
}

export interface LedgerRebuild {
  database: string;
  /** One line per change, e.g. "add schema/V0001__x.sql as applied". */
  changes: string[];
  written: boolean;
}

/**
 * Rebuilds the versioned rows of the ledger from db-migrate's migrations table (the names) and
 * the checkout (checksums, statement counts), after the DBA confirmed: the checkout's files are
 * taken to be what was applied. Files the checkout lacks get a zero checksum and stay `missing`;
 * failed or interrupted rows the migrations table cannot know of are kept; repeatable rows are
 * kept (a missing one only makes `up` re-apply that routine). An applied row the migrations table
 * lacks is removed, unless it is a complete application of the checkout's file: then the file was
 * applied and db-migrate's row was lost, so that row is restored (removing the ledger's would make
 * `up` apply the file a second time).
 */
export async function rebuildLedger(options: CommonOptions & { confirmed: boolean }): Promise<LedgerRebuild> {
  const sources = discoverMigrations(options.root ?? projectRoot());
  return withLockedSession(options, false, async (s) => {
    if (s.history.dbMigrate === null) throw new UserError(`${s.database} has no ${DB_MIGRATE_TABLE} table: there is no history to rebuild ${LEDGER_TABLE} from`);
    const ledger = await readLedger(s.books);
    const byName = new Map(ledger.map((e) => [e.name, e]));
    const recorded = [...new Set(s.history.dbMigrate)];
    const rows: { name: string; version: number | null; checksum: string; total: number }[] = [];
    const changes: string[] = [];
    const removals: string[] = [];
    const restorals: string[] = [];
    for (const name of recorded) {
      const source = sources.find((src) => src.name === name);
      const row = source
        ? { name, version: source.version, checksum: source.checksum, total: statementsOf(s.server, source).length }
        : { name, version: Number(/\/V(\d+)__/.exec(name)?.[1] ?? 0) || null, checksum: '0'.repeat(64), total: 0 };
      const entry = byName.get(name);
      const same = entry && entry.status === 'applied' && entry.kind === 'versioned' && entry.checksum === row.checksum &&
        entry.version === row.version && entry.statementsDone === row.total && entry.statementsTotal === row.total;
      if (same) continue;
      rows.push(row);
      changes.push(`${entry ? 'replace' : 'add'} ${name}.sql as applied${source ? '' : ' (not in this checkout: it will show as missing)'}`);
    }
    for (const entry of ledger) {
      if (entry.kind === 'versioned' && entry.status === 'applied' && !recorded.includes(entry.name)) {
        const source = sources.find((src) => src.name === entry.name);
        const total = source ? statementsOf(s.server, source).length : -1;
        if (source && entry.checksum === source.checksum && entry.version === source.version &&
          entry.statementsDone === total && entry.statementsTotal === total) {
          restorals.push(entry.name);
          changes.push(`restore ${entry.name}.sql in ${DB_MIGRATE_TABLE} (applied in ${LEDGER_TABLE} with this checkout's checksum)`);
        } else {
          removals.push(entry.name);
          changes.push(`remove ${entry.name}.sql (applied in ${LEDGER_TABLE}, but not in ${DB_MIGRATE_TABLE})`);
        }
      }
    }
    if (!options.confirmed || !changes.length) return { database: s.database, changes, written: false };
    await ensureLedger(s.books);
    await s.books.beginTransaction();
    try {
      for (const name of removals) await s.books.query(`DELETE FROM \`${LEDGER_TABLE}\` WHERE name = ?`, [name]);
      for (const name of restorals) await s.books.query(`INSERT INTO \`${DB_MIGRATE_TABLE}\` (name, run_on) VALUES (?, UTC_TIMESTAMP())`, [name]);
      for (const r of rows) {
        await s.books.query(`DELETE FROM \`${LEDGER_TABLE}\` WHERE name = ?`, [r.name]);
        await s.books.query(
          `INSERT INTO \`${LEDGER_TABLE}\` (name, kind, version, checksum, status, statements_total, statements_done, error_message, started_at, finished_at, run_by)
           VALUES (?, 'versioned', ?, ?, 'applied', ?, ?, 'rebuilt from ${DB_MIGRATE_TABLE} by migrate repair --rebuild-ledger', CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3), ?)`,
          [r.name, r.version, r.checksum, r.total, r.total, 'migrate repair --rebuild-ledger']);
      }
      await s.books.commit();
    } catch (err) {
      await s.books.rollback().catch(() => undefined);
      throw err;
    }
    return { database: s.database, changes, written: true };
  }, 'rebuild-ledger');
}
