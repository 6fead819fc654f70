// Bookkeeping of applied migrations. db-migrate's own `migrations` table (same shape as
// db-migrate-mysql creates) keeps the list of applied versioned files, so db-migrate's tools see
// the same history; `migration_ledger` adds what db-migrate lacks: checksums, the file's state,
// and how far a failed or interrupted file got.
import os from 'os';
import { Connection, queryRows } from '../sql/connection';
import { MigrationKind } from './sources';
import { TABLE_OPTIONS } from '../sql/charset';

export const DB_MIGRATE_TABLE = 'migrations';
export const LEDGER_TABLE = 'migration_ledger';

export type LedgerStatus = 'running' | 'applied' | 'failed';

export interface LedgerEntry {
  name: string;
  kind: MigrationKind;
  version: number | null;
  checksum: string;
  status: LedgerStatus;
  statementsTotal: number;
  /** Statements of the latest attempt that completed; on failure, the 0-based index of the failing one. */
  statementsDone: number;
  errorMessage: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  runBy: string;
  /** Server thread that ran the latest attempt's statements (null in ledgers from before it was kept). */
  threadId: number | null;
}

const CREATE_STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS \`${DB_MIGRATE_TABLE}\` (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    run_on DATETIME NOT NULL
  ) ${TABLE_OPTIONS}`,
  `CREATE TABLE IF NOT EXISTS \`${LEDGER_TABLE}\` (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    kind ENUM('versioned', 'repeatable') NOT NULL,
    version INT UNSIGNED NULL,
    checksum CHAR(64) NOT NULL,
    status ENUM('running', 'applied', 'failed') NOT NULL,
    statements_total INT UNSIGNED NOT NULL,
    statements_done INT UNSIGNED NOT NULL,
    error_message TEXT NULL,
    started_at DATETIME(3) NOT NULL,
    finished_at DATETIME(3) NULL,
    run_by VARCHAR(255) NOT NULL,
    thread_id BIGINT UNSIGNED NULL
  ) ${TABLE_OPTIONS}`,
];

/** Columns added after the first release, for ledgers created before them. */
const ADDED_COLUMNS: { name: string; ddl: string }[] = [
  // The server thread (CONNECTION_ID()) running the statements: after the client dies the server
  // may still be executing one, and a new run must not start the file again meanwhile.
  { name: 'thread_id', ddl: `ALTER TABLE \`${LEDGER_TABLE}\` ADD COLUMN thread_id BIGINT UNSIGNED NULL` },
];

export async function ensureLedger(conn: Connection): Promise<void> {
  for (const sql of CREATE_STATEMENTS) await conn.query(sql);
  const have = new Set((await queryRows<{ name: string }>(conn,
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [LEDGER_TABLE]))
    .map((r) => r.name));
  for (const column of ADDED_COLUMNS) if (!have.has(column.name)) await conn.query(column.ddl);
}

export async function tableExists(conn: Connection, table: string): Promise<boolean> {
  const rows = await queryRows(conn,
    'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
  return rows.length > 0;
}

export async function ledgerExists(conn: Connection): Promise<boolean> {
  return tableExists(conn, LEDGER_TABLE);
}

export async function readLedger(conn: Connection): Promise<LedgerEntry[]> {
  if (!(await ledgerExists(conn))) return [];
  const rows = await queryRows<Record<string, unknown>>(conn, `SELECT * FROM \`${LEDGER_TABLE}\` ORDER BY version, name`);
  return rows.map((r) => ({
    name: String(r.name),
    kind: r.kind as MigrationKind,
    version: r.version === null ? null : Number(r.version),
    checksum: String(r.checksum),
    status: r.status as LedgerStatus,
    statementsTotal: Number(r.statements_total),
    statementsDone: Number(r.statements_done),
    errorMessage: (r.error_message as string | null) ?? null,
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    runBy: String(r.run_by),
    threadId: r.thread_id === null || r.thread_id === undefined ? null : Number(r.thread_id),
  }));
}

export function runnerIdentity(): string {
  return `${os.hostname()}:${process.pid}`;
}

export async function recordStart(conn: Connection, m: { name: string; kind: MigrationKind; version: number | null; checksum: string },
  statementsTotal: number, statementsDone: number, threadId: number): Promise<void> {
  await conn.query(
    `INSERT INTO \`${LEDGER_TABLE}\` (name, kind, version, checksum, status, statements_total, statements_done, error_message, started_at, finished_at, run_by, thread_id)
     VALUES (?, ?, ?, ?, 'running', ?, ?, NULL, CURRENT_TIMESTAMP(3), NULL, ?, ?)
     ON DUPLICATE KEY UPDATE kind = VALUES(kind), version = VALUES(version), checksum = VALUES(checksum), status = 'running',
       statements_total = VALUES(statements_total), statements_done = VALUES(statements_done), error_message = NULL,
       started_at = VALUES(started_at), finished_at = NULL, run_by = VALUES(run_by), thread_id = VALUES(thread_id)`,
    [m.name, m.kind, m.version, m.checksum, statementsTotal, statementsDone, runnerIdentity(), threadId]);
}

/** SQL and parameters of "statement n done": run on the connection of a DML statement, inside its transaction. */
export function progressStatement(name: string, statementsDone: number): [string, unknown[]] {
  return [`UPDATE \`${LEDGER_TABLE}\` SET statements_done = ? WHERE name = ?`, [statementsDone, name]];
}

/** A resumed file stays interrupted at its statement, with the reason it cannot be resumed automatically. */
export async function recordInterruption(conn: Connection, name: string, reason: string): Promise<void> {
  await conn.query(`UPDATE \`${LEDGER_TABLE}\` SET error_message = ? WHERE name = ? AND status = 'running'`, [reason.slice(0, 60_000), name]);
}

export async function recordProgress(conn: Connection, name: string, statementsDone: number): Promise<void> {
  await conn.query(...progressStatement(name, statementsDone));
}

export async function recordFailure(conn: Connection, name: string, failedIndex: number, message: string): Promise<void> {
  await conn.query(
    `UPDATE \`${LEDGER_TABLE}\` SET status = 'failed', statements_done = ?, error_message = ?, finished_at = CURRENT_TIMESTAMP(3) WHERE name = ?`,
    [failedIndex, message.slice(0, 60_000), name]);
}

/** Marks a file applied; for versioned files also adds db-migrate's record, in one transaction. */
export async function recordApplied(conn: Connection, m: { name: string; kind: MigrationKind; version: number | null; checksum: string },
  statementsTotal: number): Promise<void> {
  await conn.beginTransaction();
  try {
    await conn.query(
      `INSERT INTO \`${LEDGER_TABLE}\` (name, kind, version, checksum, status, statements_total, statements_done, error_message, started_at, finished_at, run_by)
       VALUES (?, ?, ?, ?, 'applied', ?, ?, NULL, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3), ?)
       ON DUPLICATE KEY UPDATE checksum = VALUES(checksum), status = 'applied', statements_total = VALUES(statements_total),
         statements_done = VALUES(statements_done), error_message = NULL, finished_at = CURRENT_TIMESTAMP(3), run_by = VALUES(run_by)`,
      [m.name, m.kind, m.version, m.checksum, statementsTotal, statementsTotal, runnerIdentity()]);
    if (m.kind === 'versioned') {
      await conn.query(`DELETE FROM \`${DB_MIGRATE_TABLE}\` WHERE name = ?`, [m.name]);
      await conn.query(`INSERT INTO \`${DB_MIGRATE_TABLE}\` (name, run_on) VALUES (?, UTC_TIMESTAMP())`, [m.name]);
    }
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  }
}

/** Forgets a file (after its down section ran). */
export async function recordReverted(conn: Connection, name: string): Promise<void> {
  await conn.beginTransaction();
  try {
    await conn.query(`DELETE FROM \`${LEDGER_TABLE}\` WHERE name = ?`, [name]);
    await conn.query(`DELETE FROM \`${DB_MIGRATE_TABLE}\` WHERE name = ?`, [name]);
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  }
}
