// Applies, reverts and repairs migrations under the schema lock. Multi-step operations return a
// result per file (applied / failed / not executed) instead of throwing away what was done.
import { OperationError, UserError } from '../errors';
import { connect, Connection, parseUrl, quoteIdentifier, withConnection } from '../sql/connection';
import { acquireSchemaLock, DEFAULT_LOCK_TIMEOUT_SECONDS, releaseSchemaLock, schemaLockHolder } from '../sql/schema-lock';
import { SqlStatement } from '../sql/splitter';
import { splitForServer, SqlRunError } from '../sql/runner';
import { detectServer, ServerInfo } from '../sql/flavour';
import { upgradeSets } from '../campaigns/sets';
import { restoreRoutineGrants } from '../users/apply';
import { readRegistry } from '../users/registry';
import {
  ensureLedger, ledgerExists, readLedger, recordApplied, recordFailure, recordProgress, recordReverted, recordStart,
} from './ledger';
import { discoverMigrations, MigrationSource, projectRoot, readSql } from './sources';
import { compareWithLedger, FileStatus, validationProblems } from './status';
import { DATABASE_OPTIONS } from '../sql/charset';

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
  /** Lines from hooks that ran after the files (e.g. campaign set upgrades). */
  notes: string[];
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
}

/**
 * After the files, still under the lock: bring every campaign table set to the newest template
 * version, so a template migration and its roll-out to existing sets are one `up`.
 */
async function upgradeCampaignSets(conn: Connection, quiet: boolean): Promise<string[]> {
  const [rows] = await conn.query(
    "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'campaign_sets'");
  if (!(rows as unknown[]).length) return [];
  const results = await upgradeSets(conn, { progress: quiet ? 'none' : 'auto' });
  const failed = results.filter((r) => r.outcome === 'failed');
  if (failed.length) {
    throw new OperationError(`${failed.length} campaign set(s) failed to upgrade, first: campaign ${failed[0].campaignId}: ${failed[0].error}`);
  }
  return results.length ? [`campaign sets upgraded: ${results.length}`] : [];
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
  server: ServerInfo;
}

async function withLockedSession<T>(options: CommonOptions, createDatabase: boolean, fn: (s: Session) => Promise<T>): Promise<T> {
  const database = databaseOf(options.url);
  if (createDatabase) {
    await withConnection(options.url, (conn) =>
      conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)} ${DATABASE_OPTIONS}`),
    { database: null });
  } else if (!(await databaseExists(options.url, database))) {
    throw new UserError(`database ${database} does not exist`);
  }
  const books = await connect(options.url);
  let work: Connection | undefined;
  try {
    await acquireSchemaLock(books, database, options.lockTimeoutSeconds ?? DEFAULT_LOCK_TIMEOUT_SECONDS,
      (holder) => options.log?.(`waiting for the schema lock on ${database} (held by connection ${holder})`));
    try {
      work = await connect(options.url);
      await ensureLedger(books);
      return await fn({ database, books, work, server: await detectServer(work) });
    } finally {
      await releaseSchemaLock(books, database).catch(() => undefined);
    }
  } finally {
    await work?.end().catch(() => work?.destroy());
    await books.end().catch(() => books.destroy());
  }
}

function statementsOf(server: ServerInfo, source: MigrationSource, sql = source.sql): SqlStatement[] {
  return splitForServer(sql, server);
}

/** Runs statements from `from`, recording progress after each so a killed run leaves an exact trace. */
async function applyStatements(s: Session, source: MigrationSource, statements: SqlStatement[], from: number,
  file: string): Promise<{ done: number; error?: string }> {
  for (let i = from; i < statements.length; i++) {
    try {
      await s.work.query(statements[i].text);
    } catch (err) {
      return { done: i, error: SqlRunError.from(file, statements[i], err).message };
    }
    await recordProgress(s.books, source.name, i + 1);
  }
  return { done: statements.length };
}

/** The files `up` would apply, in order, and where each starts; throws when the history forbids going on. */
function workList(statuses: FileStatus[], sources: MigrationSource[], options: Pick<UpOptions, 'to' | 'resume'>) {
  const problems = validationProblems(statuses).filter((p) => {
    const st = statuses.find((s) => s.name === p.name)!;
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
  const todo: { source: MigrationSource; from: number }[] = [];
  const versionedLeft = statuses.filter((s) => s.kind === 'versioned' && s.state !== 'applied');
  for (const st of versionedLeft) {
    if (options.to !== undefined && st.version! > options.to) continue;
    todo.push({ source: byName.get(st.name)!, from: st.resumeAt ?? 0 });
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

export async function migrateUp(options: UpOptions): Promise<RunReport> {
  const log = options.quiet ? () => undefined : (options.log ?? (() => undefined));
  const sources = discoverMigrations(options.root ?? projectRoot());
  const report = await withLockedSession({ ...options, log }, true, async (s) => {
    const ledger = await readLedger(s.books);
    const statuses = compareWithLedger(sources, ledger, false);
    const todo = workList(statuses, sources, options);
    // The accounts whose grants are restored after routines are re-created are checked first: a
    // hostile database_users row refuses the run before any file is applied.
    if (todo.some((t) => t.source.kind === 'repeatable')) await readRegistry(s.work, s.database);
    const results: MigrationResult[] = [];
    let failed = false;
    for (const { source, from } of todo) {
      if (failed) {
        results.push({ name: source.name, kind: source.kind, outcome: 'not-executed', statements: 0, startedAt: 0, ms: 0 });
        continue;
      }
      const started = Date.now();
      const statements = statementsOf(s.server, source);
      if (from > statements.length) {
        throw new UserError(`${source.name}.sql: cannot resume at statement ${from + 1}, the file now has ${statements.length} statements`);
      }
      log(`applying ${source.name}.sql${from ? ` from statement ${from + 1}` : ''} (${statements.length - from} statements)`);
      await recordStart(s.books, source, statements.length, from);
      const outcome = await applyStatements(s, source, statements, from, source.path);
      if (outcome.error) {
        failed = true;
        await recordFailure(s.books, source.name, outcome.done, outcome.error);
        results.push({ name: source.name, kind: source.kind, outcome: 'failed', statements: outcome.done - from, startedAt: from, error: outcome.error, ms: Date.now() - started });
        continue;
      }
      await recordApplied(s.books, source, statements.length);
      results.push({ name: source.name, kind: source.kind, outcome: 'applied', statements: statements.length - from, startedAt: from, ms: Date.now() - started });
    }
    const notes = failed || options.to !== undefined ? [] : await upgradeCampaignSets(s.work, Boolean(options.quiet));
    // Re-creating a routine drops its grants: give them back to the users `users apply` registered.
    if (results.some((r) => r.kind === 'repeatable' && r.outcome === 'applied')) {
      notes.push(...await restoreRoutineGrants(s.work, s.database, options.root ?? projectRoot()));
    }
    return { database: s.database, results, notes, ok: !failed };
  });
  return report;
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
    const results: MigrationResult[] = [];
    let failed = false;
    for (const source of targets) {
      if (failed) {
        results.push({ name: source.name, kind: source.kind, outcome: 'not-executed', statements: 0, startedAt: 0, ms: 0 });
        continue;
      }
      const started = Date.now();
      const downSql = readSql(source.downPath!);
      const statements = statementsOf(s.server, source, downSql);
      log(`reverting ${source.name}.sql (${statements.length} statements)`);
      const outcome = await applyStatements(s, source, statements, 0, source.downPath!);
      if (outcome.error) {
        failed = true;
        await recordFailure(s.books, source.name, 0, `down file failed: ${outcome.error}`);
        results.push({ name: source.name, kind: source.kind, outcome: 'failed', statements: outcome.done, startedAt: 0, error: outcome.error, ms: Date.now() - started });
        continue;
      }
      await recordReverted(s.books, source.name);
      results.push({ name: source.name, kind: source.kind, outcome: 'reverted', statements: statements.length, startedAt: 0, ms: Date.now() - started });
    }
    return { database: s.database, results, notes: [], ok: !failed };
  });
}

/** What the ledger and the checkout say, without changing anything (a missing database is all pending). */
export async function migrationStatus(options: CommonOptions): Promise<{ database: string; exists: boolean; files: FileStatus[] }> {
  const database = databaseOf(options.url);
  const sources = discoverMigrations(options.root ?? projectRoot());
  if (!(await databaseExists(options.url, database))) {
    return { database, exists: false, files: compareWithLedger(sources, [], false) };
  }
  return withConnection(options.url, async (conn) => {
    const ledger = (await ledgerExists(conn)) ? await readLedger(conn) : [];
    const running = (await schemaLockHolder(conn, database)) !== null;
    return { database, exists: true, files: compareWithLedger(sources, ledger, running) };
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
