// Everything a .sql file can leave in a database, in a form two databases can be compared by:
// table and view definitions, routines with their parameters, triggers, events, and every row.
import { Connection, queryRows } from '../../tools/sql/connection';

export interface SchemaSnapshot {
  tables: Record<string, string>;
  views: Record<string, string>;
  routines: Record<string, unknown>[];
  parameters: Record<string, unknown>[];
  triggers: Record<string, unknown>[];
  events: Record<string, unknown>[];
  rows: Record<string, unknown[]>;
}

/** Any identifier, including ones with backticks (the corpus has them). */
const quote = (name: string) => '`' + name.replace(/`/g, '``') + '`';

/** The session a stored program was created in. */
const SESSION_CHARSET = 'CHARACTER_SET_CLIENT AS `characterSetClient`, COLLATION_CONNECTION AS `collationConnection`';

function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  if (value instanceof Date) return value.toISOString();
  return value;
}

async function showCreate(conn: Connection, what: string, name: string, column: string): Promise<string> {
  const [row] = await queryRows<Record<string, string>>(conn, `SHOW CREATE ${what} ${quote(name)}`);
  return row[column];
}

/**
 * The snapshot of the connection's current database. Its name is replaced by "<db>" so that two
 * throwaway databases compare equal; an event's start time and time zone are left out on purpose.
 * The session character set and collation every stored program and view was created in are kept:
 * they decide how its string literals compare, and they are what the client's session had.
 */
export async function snapshotDatabase(conn: Connection, database: string): Promise<SchemaSnapshot> {
  const snapshot: SchemaSnapshot = { tables: {}, views: {}, routines: [], parameters: [], triggers: [], events: [], rows: {} };
  const tables = await queryRows<{ name: string; type: string }>(conn,
    'SELECT TABLE_NAME AS `name`, TABLE_TYPE AS `type` FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [database]);
  for (const { name, type } of tables) {
    if (type === 'VIEW') {
      const [view] = await queryRows<Record<string, string>>(conn, `SHOW CREATE VIEW ${quote(name)}`);
      snapshot.views[name] = `${view['Create View']} -- ${view.character_set_client} ${view.collation_connection}`;
      continue;
    }
    snapshot.tables[name] = await showCreate(conn, 'TABLE', name, 'Create Table');
    const [{ columns }] = await queryRows<{ columns: number }>(conn,
      'SELECT COUNT(*) AS `columns` FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, name]);
    const order = Array.from({ length: Number(columns) }, (_, i) => i + 1).join(', ');
    const rows = await queryRows(conn, `SELECT * FROM ${quote(name)} ORDER BY ${order}`);
    snapshot.rows[name] = rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])));
  }

  snapshot.routines = await queryRows(conn,
    `SELECT ROUTINE_NAME AS \`name\`, ROUTINE_TYPE AS \`type\`, DTD_IDENTIFIER AS \`returns\`, ROUTINE_DEFINITION AS \`definition\`,
            IS_DETERMINISTIC AS \`deterministic\`, SQL_DATA_ACCESS AS \`dataAccess\`, SECURITY_TYPE AS \`security\`,
            SQL_MODE AS \`sqlMode\`, ROUTINE_COMMENT AS \`comment\`, DEFINER AS \`definer\`, ${SESSION_CHARSET}
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME`, [database]);
  for (const routine of snapshot.routines) {
    routine.created = await showCreate(conn, String(routine.type), String(routine.name), `Create ${routine.type === 'PROCEDURE' ? 'Procedure' : 'Function'}`);
  }
  snapshot.parameters = await queryRows(conn,
    `SELECT SPECIFIC_NAME AS \`routine\`, ORDINAL_POSITION AS \`position\`, PARAMETER_MODE AS \`mode\`, PARAMETER_NAME AS \`name\`,
            DTD_IDENTIFIER AS \`type\`
       FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = ? ORDER BY SPECIFIC_NAME, ORDINAL_POSITION`, [database]);
  snapshot.triggers = await queryRows(conn,
    `SELECT TRIGGER_NAME AS \`name\`, EVENT_MANIPULATION AS \`event\`, EVENT_OBJECT_TABLE AS \`tableName\`, ACTION_ORDER AS \`actionOrder\`,
            ACTION_TIMING AS \`timing\`, ACTION_STATEMENT AS \`statement\`, SQL_MODE AS \`sqlMode\`, DEFINER AS \`definer\`, ${SESSION_CHARSET}
       FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME`, [database]);
  snapshot.events = await queryRows(conn,
    `SELECT EVENT_NAME AS \`name\`, EVENT_DEFINITION AS \`definition\`, EVENT_TYPE AS \`type\`, INTERVAL_VALUE AS \`intervalValue\`,
            INTERVAL_FIELD AS \`intervalField\`, STATUS AS \`status\`, ON_COMPLETION AS \`onCompletion\`, EVENT_COMMENT AS \`comment\`,
            SQL_MODE AS \`sqlMode\`, DEFINER AS \`definer\`, ${SESSION_CHARSET}
       FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME`, [database]);

  return JSON.parse(JSON.stringify(snapshot).split(database).join('<db>')) as SchemaSnapshot;
}
