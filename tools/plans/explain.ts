// EXPLAIN FORMAT=JSON of a captured statement, normalised for either server and tied back to the
// tables the statement names (EXPLAIN speaks of aliases; the rules need the tables and their size).
import { Connection, queryRows } from '../sql/connection';
import { ServerInfo } from '../sql/flavour';
import { splitSql } from '../sql/splitter';
import { normaliseMariadb, normaliseMysql, RawPlanRow } from './normalise';
import { normaliseCampaignName, TableReference, tableReferences } from './sqltext';

/** EXPLAIN's row named by table: RawPlanRow's alias-based `name` resolved to the table it reads. */
export interface PlanRow extends Omit<RawPlanRow, 'name'> {
  /** The table read: its name (campaign tables as campaign_N_<kind>), or <derivedN>, <unionM,N>, JSON_TABLE, '-'. */
  table: string;
  /** The alias the statement gives it, when not the table's own name. */
  alias?: string;
  /** The physical table (campaign id included), for size and index lookups; null for anything but a base table. */
  physical: string | null;
}

/** Session settings for EXPLAIN (ServerInfo.explainSessionSettings: e.g. the JSON format version the normaliser reads). */
export async function prepareExplainSession(conn: Connection, server: ServerInfo): Promise<void> {
  for (const setting of server.explainSessionSettings) await conn.query(setting).catch(() => undefined);
}

export async function explainJson(conn: Connection, sql: string): Promise<unknown> {
  const rows = await queryRows<Record<string, string>>(conn, `EXPLAIN FORMAT=JSON ${sql}`);
  return JSON.parse(Object.values(rows[0])[0]);
}

const NORMALISERS: Record<ServerInfo['explainFormat'], (explain: unknown) => RawPlanRow[]> = { mysql: normaliseMysql, mariadb: normaliseMariadb };

export function normaliseFor(server: Pick<ServerInfo, 'explainFormat'>, explain: unknown): RawPlanRow[] {
  return NORMALISERS[server.explainFormat](explain);
}

/** Names EXPLAIN's rows by table: aliases resolved through the statement's own FROM/JOIN/UPDATE/INTO clauses. */
export function resolveRows(raw: RawPlanRow[], sql: string, refs: TableReference[] = tableReferences(sql)): PlanRow[] {
  return raw.map((r) => {
    const base = { select: r.select, kind: r.kind, access: r.access, index: r.index === null ? null : normaliseCampaignName(r.index),
      indexes: r.indexes.map(normaliseCampaignName), rows: r.rows, filesort: r.filesort, temporary: r.temporary,
      ...(r.write ? { write: r.write } : {}), ...(r.note ? { note: r.note } : {}) };
    if (r.kind === 'function') return { ...base, table: 'JSON_TABLE', alias: r.name, physical: null };
    if (r.kind !== 'table') return { ...base, table: r.name, physical: null };
    const ref = refs.find((x) => x.alias.toLowerCase() === r.name.toLowerCase()) ?? refs.find((x) => x.table.toLowerCase() === r.name.toLowerCase());
    const physical = ref ? ref.table : r.name;
    const table = normaliseCampaignName(physical);
    return { ...base, table, ...(r.name.toLowerCase() !== physical.toLowerCase() ? { alias: r.name } : {}), physical };
  });
}

export async function explainStatement(conn: Connection, server: ServerInfo, sql: string): Promise<PlanRow[]> {
  return resolveRows(normaliseFor(server, await explainJson(conn, sql)), sql);
}

/**
 * The CREATE TEMPORARY TABLE statements written in routine bodies (static SQL only). A routine's
 * temporary table lives in the routine's session and is gone when EXPLAIN runs on its own
 * connection, so the plan check creates each one, empty, in the EXPLAIN session first.
 */
export function temporaryTableStatements(body: string): string[] {
  const out: string[] = [];
  for (const fragment of splitSql(body)) {
    const m = /\bCREATE\s+TEMPORARY\s+TABLE\b[\s\S]*$/i.exec(fragment.text);
    if (m) out.push(m[0].trim());
  }
  return out;
}

/** Creates, empty, every temporary table the database's routines create (see temporaryTableStatements). */
export async function createRoutineTemporaryTables(conn: Connection, database: string): Promise<string[]> {
  const routines = await queryRows<{ body: string | null }>(conn,
    'SELECT ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME', [database]);
  const created: string[] = [];
  for (const { body } of routines) {
    for (const statement of temporaryTableStatements(body ?? '')) {
      const ensured = statement.replace(/^CREATE\s+TEMPORARY\s+TABLE\s+(?!IF\s+NOT\s+EXISTS)/i, 'CREATE TEMPORARY TABLE IF NOT EXISTS ');
      await conn.query(ensured);
      created.push(ensured);
    }
  }
  return created;
}
