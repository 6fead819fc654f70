// Stage 2 of codegen: call a procedure for real to see its result sets. Each procedure is called
// in its own throwaway copy of the catalogue database (tables with their rows, views, routines,
// triggers), after its header's @setup statements, once per @example; mysql2's field metadata of
// every result set is kept, with the source columns the fields came from (orgTable/orgName).
import { FieldInfo, RawSet, runRaw } from '../../bindings/runtime';
import { OperationError, UserError } from '../errors';
import { createThrowawayDatabase } from '../harness/database';
import { Connection, connect, queryRows, quoteIdentifier, withDatabase } from '../sql/connection';
import { CatalogueRoutine } from './catalogue';
import { HeaderExample, RoutineHeader } from '../routines/header';

/** Above this many rows (information_schema's estimate) the catalogue database is not copied per routine. */
export const MAX_COPIED_ROWS = 100_000;

export interface SourceColumn {
  columnType: string;
  nullable: boolean;
}

export interface ObservedCall {
  /** Where the call came from: the @example's file:line, or "implicit call" for a procedure without IN parameters. */
  at: string;
  sets: RawSet[];
}

export interface Observation {
  calls: ObservedCall[];
  /** `${db}.${table}.${column}` -> the column as declared. */
  columns: Map<string, SourceColumn>;
}

export function sourceKey(field: FieldInfo): string | null {
  if (!field.orgTable || !field.orgName || !field.db) return null;
  return `${field.db}.${field.orgTable}.${field.orgName}`;
}

function stripDefiner(statement: string): string {
  return statement.replace(/\bDEFINER\s*=\s*(?:`[^`]*`|'[^']*'|[^\s@]+)@(?:`[^`]*`|'[^']*'|\S+)\s+/i, '');
}

async function showCreate(conn: Connection, what: string, db: string, name: string): Promise<Record<string, string | null>> {
  const [row] = await queryRows<Record<string, string | null>>(conn, `SHOW CREATE ${what} ${quoteIdentifier(db)}.${quoteIdentifier(name)}`);
  return row;
}

/** Copies the tables (with rows), views, routines and triggers of `source` into the database `conn` is using. */
export async function cloneDatabase(conn: Connection, source: string): Promise<void> {
  const [{ mode }] = await queryRows<{ mode: string }>(conn, 'SELECT @@SESSION.sql_mode AS mode');
  const tables = await queryRows<{ TABLE_NAME: string; TABLE_TYPE: string; TABLE_ROWS: number | null }>(conn,
    'SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [source]);
  const base = tables.filter((t) => t.TABLE_TYPE === 'BASE TABLE' || t.TABLE_TYPE === 'SYSTEM VERSIONED');
  const rows = base.reduce((n, t) => n + Number(t.TABLE_ROWS ?? 0), 0);
  if (rows > MAX_COPIED_ROWS) {
    throw new UserError(`${source} holds about ${rows} rows: codegen copies the database once per procedure, so point --url at a small dev/CI database or use --from-checkout`);
  }
  await conn.query('SET FOREIGN_KEY_CHECKS = 0');
  try {
    for (const t of base) {
      const create = await showCreate(conn, 'TABLE', source, t.TABLE_NAME);
      await conn.query(create['Create Table']!);
      const columns = await queryRows<{ COLUMN_NAME: string }>(conn,
        `SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%'
          ORDER BY ORDINAL_POSITION`, [source, t.TABLE_NAME]);
      const list = columns.map((c) => '`' + c.COLUMN_NAME.replace(/`/g, '``') + '`').join(', ');
      await conn.query(`INSERT INTO ${quoteIdentifier(t.TABLE_NAME)} (${list}) SELECT ${list} FROM ${quoteIdentifier(source)}.${quoteIdentifier(t.TABLE_NAME)}`);
    }
    // Views may use each other: create what can be created until nothing more can.
    let views = tables.filter((t) => t.TABLE_TYPE === 'VIEW').map((t) => t.TABLE_NAME);
    const qualifier = new RegExp('`' + source.replace(/[$]/g, '\\$') + '`\\.', 'g');
    while (views.length) {
      const failed: string[] = [];
      let lastError: unknown;
      for (const v of views) {
        const create = await showCreate(conn, 'VIEW', source, v);
        try {
          await conn.query(stripDefiner(create['Create View']!).replace(qualifier, ''));
        } catch (err) {
          failed.push(v);
          lastError = err;
        }
      }
      if (failed.length === views.length) throw new OperationError(`cannot copy view ${failed[0]}: ${(lastError as Error).message}`);
      views = failed;
    }
    const routines = await queryRows<{ ROUTINE_NAME: string; ROUTINE_TYPE: string }>(conn,
      'SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME', [source]);
    for (const r of routines) {
      const create = await showCreate(conn, r.ROUTINE_TYPE, source, r.ROUTINE_NAME);
      const text = create[r.ROUTINE_TYPE === 'FUNCTION' ? 'Create Function' : 'Create Procedure'];
      if (!text) throw new OperationError(`cannot read the definition of ${r.ROUTINE_NAME}: the user needs SHOW_ROUTINE or to own it`);
      await conn.query('SET SESSION sql_mode = ?', [create.sql_mode ?? '']);
      await conn.query(stripDefiner(text));
    }
    const triggers = await queryRows<{ TRIGGER_NAME: string }>(conn,
      'SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME', [source]);
    for (const t of triggers) {
      const create = await showCreate(conn, 'TRIGGER', source, t.TRIGGER_NAME);
      await conn.query('SET SESSION sql_mode = ?', [create.sql_mode ?? '']);
      await conn.query(stripDefiner(create['SQL Original Statement']!));
    }
  } finally {
    await conn.query('SET SESSION sql_mode = ?', [mode]);
    await conn.query('SET FOREIGN_KEY_CHECKS = 1');
  }
}

/** Finds the parameter an example names: its SQL name, or the name without the p_ prefix. */
export function exampleParam(routine: CatalogueRoutine, name: string, at: string) {
  const param = routine.params.find((p) => p.name === name) ?? routine.params.find((p) => p.name.replace(/^p_/, '') === name);
  if (!param) {
    throw new UserError(`${at}: @example: ${routine.name} has no parameter "${name}" (parameters: ${routine.params.map((p) => p.name).join(', ') || 'none'})`);
  }
  if (param.mode === 'OUT') throw new UserError(`${at}: @example: ${param.name} is an OUT parameter: it takes no value`);
  return param;
}

/** The statements of one example call: SET for INOUT/OUT variables, then the CALL. */
export function exampleStatements(routine: CatalogueRoutine, example: HeaderExample | null): string[] {
  const values = new Map<string, string>();
  for (const [name, expr] of example?.args ?? []) values.set(exampleParam(routine, name, example!.at).name, expr);
  const variable = (i: number) => `@_rdb_p${i + 1}`;
  const sets = routine.params.flatMap((p, i) => (p.mode === 'IN' ? [] : [`${variable(i)} = ${p.mode === 'INOUT' ? values.get(p.name) ?? 'NULL' : 'NULL'}`]));
  const args = routine.params.map((p, i) => (p.mode === 'IN' ? values.get(p.name) ?? 'NULL' : variable(i)));
  return [...(sets.length ? [`SET ${sets.join(', ')}`] : []), `CALL ${quoteIdentifier(routine.name)}(${args.join(', ')})`];
}

function describeError(err: unknown): string {
  const e = err as { sqlState?: string; sqlMessage?: string; message?: string };
  return e.sqlState ? `SQLSTATE ${e.sqlState}: ${e.sqlMessage ?? e.message}` : String(e.message ?? err);
}

/**
 * Calls the procedure as its header says, in a throwaway copy of `database` on the same server.
 * Returns null when there is nothing to call (IN parameters but no @example).
 */
export async function observeProcedure(url: string, database: string, routine: CatalogueRoutine, header: RoutineHeader): Promise<Observation | null> {
  const needsArgs = routine.params.some((p) => p.mode !== 'OUT');
  if (needsArgs && !header.examples.length) return null;
  const sandbox = await createThrowawayDatabase(`cg_${routine.name}`, withDatabase(url, null));
  let conn: Connection | undefined;
  try {
    conn = await connect(sandbox.url);
    await cloneDatabase(conn, database);
    for (const s of header.setup) {
      try {
        await conn.query(s.sql);
      } catch (err) {
        throw new UserError(`${s.at}: @setup failed: ${describeError(err)}`);
      }
    }
    const calls: ObservedCall[] = [];
    for (const example of header.examples.length ? header.examples : [null]) {
      const at = example?.at ?? `${routine.name} (implicit call without arguments)`;
      let sets: RawSet[] = [];
      for (const statement of exampleStatements(routine, example)) {
        try {
          sets = await runRaw(conn, statement);
        } catch (err) {
          throw new UserError(`${at}: @example failed: ${statement}: ${describeError(err)}`);
        }
      }
      calls.push({ at, sets });
    }
    const columns = new Map<string, SourceColumn>();
    const tables = new Set<string>();
    for (const call of calls) for (const set of call.sets) for (const f of set.fields) if (sourceKey(f)) tables.add(`${f.db}\u0000${f.orgTable}`);
    for (const t of [...tables].sort()) {
      const [db, table] = t.split('\u0000');
      const rows = await queryRows<{ COLUMN_NAME: string; COLUMN_TYPE: string; IS_NULLABLE: string }>(conn,
        'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, table]);
      for (const r of rows) columns.set(`${db}.${table}.${r.COLUMN_NAME}`, { columnType: r.COLUMN_TYPE, nullable: r.IS_NULLABLE === 'YES' });
    }
    return { calls, columns };
  } finally {
    await conn?.end().catch(() => conn?.destroy());
    await sandbox.drop();
  }
}
