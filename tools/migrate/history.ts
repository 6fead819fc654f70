// The two records of what was applied must agree: db-migrate's `migrations` table (one row per
// applied versioned file) and `migration_ledger`. A ledger that was dropped, lost rows or had rows
// edited would otherwise make `up` apply files again; instead `status`/`validate` report it and
// `up` refuses until `migrate repair --rebuild-ledger` rebuilt it.
import { Connection, queryRows } from '../sql/connection';
import { DB_MIGRATE_TABLE, LEDGER_TABLE, LedgerEntry, tableExists } from './ledger';
import { MigrationSource } from './sources';

export interface HistoryState {
  ledgerExists: boolean;
  /** Names in db-migrate's table, oldest first; null when the table does not exist. */
  dbMigrate: string[] | null;
}

export async function readHistoryState(conn: Connection): Promise<HistoryState> {
  const ledger = await tableExists(conn, LEDGER_TABLE);
  const dbMigrate = (await tableExists(conn, DB_MIGRATE_TABLE))
    ? (await queryRows<{ name: string }>(conn, `SELECT name FROM \`${DB_MIGRATE_TABLE}\` ORDER BY id`)).map((r) => String(r.name))
    : null;
  return { ledgerExists: ledger, dbMigrate };
}

const REBUILD_HINT = 'run `migrate repair --rebuild-ledger` to rebuild it from the migrations table';

/** One line per disagreement; empty when the ledger and the migrations table tell the same history. */
export function historyProblems(state: HistoryState, ledger: LedgerEntry[], sources: MigrationSource[]): string[] {
  const recorded = state.dbMigrate ?? [];
  if (!state.ledgerExists) {
    return recorded.length
      ? [`${LEDGER_TABLE} is missing, but ${DB_MIGRATE_TABLE} lists ${recorded.length} applied file(s): ${REBUILD_HINT}`]
      : [];
  }
  const problems: string[] = [];
  const byName = new Map(ledger.map((e) => [e.name, e]));
  const recordedSet = new Set(recorded);
  for (const name of recordedSet) {
    const entry = byName.get(name);
    if (!entry) problems.push(`${name}.sql: listed in ${DB_MIGRATE_TABLE} but has no ${LEDGER_TABLE} row (rows deleted?): ${REBUILD_HINT}`);
    else if (entry.status !== 'applied') problems.push(`${name}.sql: listed in ${DB_MIGRATE_TABLE} as applied, but ${LEDGER_TABLE} says ${entry.status} (row edited?)`);
  }
  const sourceByName = new Map(sources.map((s) => [s.name, s]));
  for (const entry of ledger) {
    if (entry.kind === 'versioned' && entry.status === 'applied' && !recordedSet.has(entry.name)) {
      problems.push(`${entry.name}.sql: applied in ${LEDGER_TABLE} but not listed in ${DB_MIGRATE_TABLE} (row edited or deleted?)`);
    }
    const source = sourceByName.get(entry.name);
    if (source && (source.kind !== entry.kind || source.version !== entry.version)) {
      problems.push(`${entry.name}.sql: ${LEDGER_TABLE} records it as ${entry.kind} version ${entry.version ?? '-'}, the file is ${source.kind} version ${source.version ?? '-'} (row edited?)`);
    }
    if (!/^[0-9a-f]{64}$/.test(entry.checksum)) problems.push(`${entry.name}.sql: ${LEDGER_TABLE} holds no valid checksum ("${entry.checksum.slice(0, 20)}"; row edited?)`);
    if (entry.status === 'applied' && entry.statementsDone !== entry.statementsTotal) {
      problems.push(`${entry.name}.sql: ${LEDGER_TABLE} says applied with ${entry.statementsDone} of ${entry.statementsTotal} statements (row edited?)`);
    }
  }
  return problems;
}
