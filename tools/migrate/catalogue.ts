// A database's schema as plain data, read from information_schema in one bulk query per kind of
// object (never one per table): with 1,000 campaign sets a database has 8,000+ tables, and drift
// must read them all in seconds. Comparison is in catalogue-compare.ts; this file only reads.
import { Connection, queryRows } from '../sql/connection';

export interface ColumnDef {
  name: string;
  position: number;
  type: string;
  nullable: boolean;
  /** As the server reports it (its own quoting); null when there is none. */
  default: string | null;
  extra: string;
  collation: string | null;
  generation: string | null;
  comment: string;
}

export interface IndexDef {
  name: string;
  unique: boolean;
  type: string;
  /** Each part as `column`, `column(prefix)`, `(expression)`, with ` DESC` when descending. */
  parts: string[];
  /** MySQL INVISIBLE / MariaDB IGNORED indexes are not used by the optimiser: that counts. */
  hidden: boolean;
}

export interface ForeignKeyDef {
  name: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onUpdate: string;
  onDelete: string;
}

export interface TableDef {
  name: string;
  engine: string | null;
  collation: string | null;
  comment: string;
  columns: ColumnDef[];
  indexes: Record<string, IndexDef>;
  foreignKeys: Record<string, ForeignKeyDef>;
  checks: Record<string, string>;
}

export interface ViewDef {
  name: string;
  definition: string;
  checkOption: string;
  securityType: string;
}

export interface ParameterDef {
  mode: string | null;
  name: string | null;
  type: string;
  collation: string | null;
}

export interface RoutineDef {
  type: 'PROCEDURE' | 'FUNCTION';
  name: string;
  definition: string;
  /** The parameters in order; a function's return type is the one with position 0 (name null). */
  parameters: ParameterDef[];
  /** What changes how the body runs besides its text: compared one by one. */
  characteristics: Record<string, string>;
}

export interface TriggerDef {
  name: string;
  table: string;
  timing: string;
  event: string;
  order: number;
  statement: string;
  sqlMode: string;
}

export interface EventDef {
  name: string;
  definition: string;
  characteristics: Record<string, string>;
}

export interface Catalogue {
  database: string;
  tables: Record<string, TableDef>;
  views: Record<string, ViewDef>;
  /** Keyed by "procedure name" / "function name", as findings name them. */
  routines: Record<string, RoutineDef>;
  triggers: Record<string, TriggerDef>;
  events: Record<string, EventDef>;
}

/** Body text without the differences that do not change meaning: line endings, runs of blanks. */
export function normaliseSql(text: string | null, database: string): string {
  if (text === null) return '';
  // A view's definition names its own database (`db`.`table`); the reference has another name.
  const qualified = new RegExp('`' + database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '`\\.', 'g');
  return text.replace(qualified, '').replace(/\r\n?/g, '\n').replace(/\s+/g, ' ').trim();
}

type Row = Record<string, unknown>;
const str = (v: unknown): string => (v === null || v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));

function tableOf(tables: Record<string, TableDef>, name: string): TableDef | undefined {
  return Object.prototype.hasOwnProperty.call(tables, name) ? tables[name] : undefined;
}

/** Which of these columns an information_schema table has on this server (they differ between MySQL and MariaDB). */
async function presentColumns(conn: Connection, table: string, wanted: string[]): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(conn,
    "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = ?", [table]);
  const present = new Set(rows.map((r) => String(r.name).toUpperCase()));
  return wanted.filter((c) => present.has(c));
}

/**
 * Reads every object of `database`: about a dozen queries whatever its size. Columns that exist
 * on one server only (MySQL's EXPRESSION and IS_VISIBLE, MariaDB's IGNORED, MariaDB's
 * CHECK_CONSTRAINTS.TABLE_NAME) are selected when the server has them, so no flavour branches.
 */
export async function readCatalogue(conn: Connection, database: string): Promise<Catalogue> {
  const q = (sql: string) => queryRows<Row>(conn, sql, [database]);
  const tables: Record<string, TableDef> = {};
  for (const t of await q(`SELECT TABLE_NAME AS name, ENGINE AS engine, TABLE_COLLATION AS collation, TABLE_COMMENT AS comment
      FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'`)) {
    const name = str(t.name);
    tables[name] = { name, engine: strOrNull(t.engine), collation: strOrNull(t.collation), comment: str(t.comment), columns: [], indexes: {}, foreignKeys: {}, checks: {} };
  }
  for (const c of await q(`SELECT TABLE_NAME AS tableName, COLUMN_NAME AS name, ORDINAL_POSITION AS position, COLUMN_TYPE AS type,
        IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, EXTRA AS extra, COLLATION_NAME AS collation,
        GENERATION_EXPRESSION AS generation, COLUMN_COMMENT AS comment
      FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?`)) {
    const table = tableOf(tables, str(c.tableName));
    if (!table) continue; // a view's columns
    table.columns.push({
      name: str(c.name), position: Number(c.position), type: str(c.type), nullable: str(c.nullable) === 'YES',
      default: strOrNull(c.dflt), extra: str(c.extra), collation: strOrNull(c.collation),
      generation: str(c.generation) === '' ? null : str(c.generation), comment: str(c.comment),
    });
  }
  for (const table of Object.values(tables)) table.columns.sort((a, b) => a.position - b.position);

  // Not SELECT *: MySQL computes CARDINALITY per table for it (seconds with thousands of tables).
  const optional = await presentColumns(conn, 'STATISTICS', ['EXPRESSION', 'IS_VISIBLE', 'IGNORED']);
  const indexRows = await q(`SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, INDEX_TYPE, COLLATION${optional.map((c) => `, ${c}`).join('')}
      FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`);
  for (const s of indexRows) {
    const table = tableOf(tables, str(s.TABLE_NAME));
    if (!table) continue;
    const name = str(s.INDEX_NAME);
    const index = table.indexes[name] ??= {
      name, unique: Number(s.NON_UNIQUE) === 0, type: str(s.INDEX_TYPE), parts: [],
      hidden: str(s.IS_VISIBLE) === 'NO' || str(s.IGNORED) === 'YES',
    };
    const expression = strOrNull(s.EXPRESSION);
    const column = s.COLUMN_NAME === null || s.COLUMN_NAME === undefined ? `(${expression ?? ''})` : str(s.COLUMN_NAME);
    const prefix = s.SUB_PART === null || s.SUB_PART === undefined ? '' : `(${str(s.SUB_PART)})`;
    index.parts.push(`${column}${prefix}${str(s.COLLATION) === 'D' ? ' DESC' : ''}`);
  }

  const rules = new Map<string, Row>();
  for (const r of await q(`SELECT TABLE_NAME AS tableName, CONSTRAINT_NAME AS name, UPDATE_RULE AS onUpdate, DELETE_RULE AS onDelete
      FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`)) {
    rules.set(`${str(r.tableName)}\0${str(r.name)}`, r);
  }
  for (const k of await q(`SELECT TABLE_NAME AS tableName, CONSTRAINT_NAME AS name, COLUMN_NAME AS col,
        REFERENCED_TABLE_SCHEMA AS refSchema, REFERENCED_TABLE_NAME AS refTable, REFERENCED_COLUMN_NAME AS refCol
      FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`)) {
    const table = tableOf(tables, str(k.tableName));
    if (!table) continue;
    const name = str(k.name);
    const rule = rules.get(`${table.name}\0${name}`);
    // Another database's table keeps its schema in the name; this database's is named alone.
    const refTable = str(k.refSchema) === database ? str(k.refTable) : `${str(k.refSchema)}.${str(k.refTable)}`;
    const fk = table.foreignKeys[name] ??= {
      name, columns: [], referencedTable: refTable, referencedColumns: [],
      onUpdate: str(rule?.onUpdate), onDelete: str(rule?.onDelete),
    };
    fk.columns.push(str(k.col));
    fk.referencedColumns.push(str(k.refCol));
  }

  // MariaDB's CHECK_CONSTRAINTS names the table, MySQL's does not (check names are unique per
  // database there): TABLE_CONSTRAINTS says which table a check of MySQL belongs to.
  const checkTables = new Map<string, string>();
  for (const c of await q(`SELECT TABLE_NAME AS tableName, CONSTRAINT_NAME AS name FROM information_schema.TABLE_CONSTRAINTS
      WHERE CONSTRAINT_SCHEMA = ? AND CONSTRAINT_TYPE = 'CHECK'`)) checkTables.set(str(c.name), str(c.tableName));
  const checkTable = (await presentColumns(conn, 'CHECK_CONSTRAINTS', ['TABLE_NAME'])).map((c) => `, ${c}`).join('');
  for (const c of await q(`SELECT CONSTRAINT_NAME, CHECK_CLAUSE${checkTable} FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`)) {
    const name = str(c.CONSTRAINT_NAME);
    const table = tableOf(tables, c.TABLE_NAME !== undefined ? str(c.TABLE_NAME) : checkTables.get(name) ?? '');
    if (table) table.checks[name] = normaliseSql(str(c.CHECK_CLAUSE), database);
  }

  const views: Record<string, ViewDef> = {};
  for (const v of await q(`SELECT TABLE_NAME AS name, VIEW_DEFINITION AS definition, CHECK_OPTION AS checkOption, SECURITY_TYPE AS securityType
      FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?`)) {
    views[str(v.name)] = { name: str(v.name), definition: normaliseSql(str(v.definition), database), checkOption: str(v.checkOption), securityType: str(v.securityType) };
  }

  const routines: Record<string, RoutineDef> = {};
  for (const r of await q(`SELECT ROUTINE_TYPE AS type, ROUTINE_NAME AS name, ROUTINE_DEFINITION AS definition, IS_DETERMINISTIC AS isDeterministic,
        SQL_DATA_ACCESS AS dataAccess, SECURITY_TYPE AS security, SQL_MODE AS sqlMode, ROUTINE_COMMENT AS comment,
        CHARACTER_SET_CLIENT AS charsetClient, COLLATION_CONNECTION AS collationConnection, DATABASE_COLLATION AS databaseCollation
      FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`)) {
    const type = str(r.type) as RoutineDef['type'];
    routines[`${type.toLowerCase()} ${str(r.name)}`] = {
      type, name: str(r.name), definition: normaliseSql(strOrNull(r.definition), database), parameters: [],
      characteristics: {
        'DETERMINISTIC': str(r.isDeterministic),
        'SQL DATA ACCESS': str(r.dataAccess),
        'SQL SECURITY': str(r.security),
        'sql_mode': str(r.sqlMode),
        'COMMENT': str(r.comment),
        'character_set_client': str(r.charsetClient),
        'collation_connection': str(r.collationConnection),
        'database collation': str(r.databaseCollation),
      },
    };
  }
  for (const p of await q(`SELECT ROUTINE_TYPE AS type, SPECIFIC_NAME AS name, ORDINAL_POSITION AS position, PARAMETER_MODE AS mode,
        PARAMETER_NAME AS param, DTD_IDENTIFIER AS dtd, COLLATION_NAME AS collation
      FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = ? ORDER BY SPECIFIC_NAME, ORDINAL_POSITION`)) {
    const routine = routines[`${str(p.type).toLowerCase()} ${str(p.name)}`];
    routine?.parameters.push({ mode: strOrNull(p.mode), name: strOrNull(p.param), type: str(p.dtd), collation: strOrNull(p.collation) });
  }

  const triggers: Record<string, TriggerDef> = {};
  for (const t of await q(`SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tableName, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event,
        ACTION_ORDER AS actionOrder, ACTION_STATEMENT AS statement, SQL_MODE AS sqlMode
      FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`)) {
    triggers[str(t.name)] = {
      name: str(t.name), table: str(t.tableName), timing: str(t.timing), event: str(t.event), order: Number(t.actionOrder),
      statement: normaliseSql(str(t.statement), database), sqlMode: str(t.sqlMode),
    };
  }

  const events: Record<string, EventDef> = {};
  for (const e of await q(`SELECT EVENT_NAME AS name, EVENT_DEFINITION AS definition, EVENT_TYPE AS type, INTERVAL_VALUE AS intervalValue,
        INTERVAL_FIELD AS intervalField, STATUS AS status, ON_COMPLETION AS onCompletion, SQL_MODE AS sqlMode, EVENT_COMMENT AS comment
      FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`)) {
    events[str(e.name)] = {
      name: str(e.name), definition: normaliseSql(str(e.definition), database),
      characteristics: {
        'type': str(e.type), 'interval': `${str(e.intervalValue)} ${str(e.intervalField)}`.trim(), 'status': str(e.status),
        'ON COMPLETION': str(e.onCompletion), 'sql_mode': str(e.sqlMode), 'COMMENT': str(e.comment),
      },
    };
  }
  return { database, tables, views, routines, triggers, events };
}
