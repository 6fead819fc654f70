// After a run died during (or right after) a DDL statement, the server may have finished it: DDL
// commits by itself, so the ledger cannot say. Both servers' DDL is atomic (MySQL 8+, MariaDB
// 10.6+ for ALTER/CREATE/DROP/RENAME on InnoDB), so the statement took effect whole or not at all;
// the catalogue tells which, for the statements whose effect it can name. Everything else is
// "undecidable" and left to the DBA.
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { leadingCode } from './statement-kind';

export type DdlVerdict =
  | { state: 'applied' }
  | { state: 'not-applied' }
  | { state: 'undecidable'; reason: string };

const IDENT = '(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$]+))';
const name = (m: RegExpExecArray, at: number) => (m[at] ?? m[at + 1]).replace(/``/g, '`');

/** Column names of an index definition "(a, b(10), c DESC)". */
function indexColumns(list: string): string[] {
  return splitTopLevel(list.replace(/^\s*\(/, '').replace(/\)\s*$/, ''))
    .map((c) => c.trim().replace(/^`((?:[^`]|``)+)`.*$/s, '$1').replace(/^([A-Za-z0-9_$]+).*$/s, '$1').toLowerCase());
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  if (current.trim()) parts.push(current);
  return parts;
}

async function tableExists(conn: Connection, table: string): Promise<boolean> {
  return (await queryRows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table])).length > 0;
}

async function columnOf(conn: Connection, table: string, column: string) {
  const [row] = await queryRows<{ type: string; nullable: string }>(conn,
    `SELECT DATA_TYPE AS type, IS_NULLABLE AS nullable FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`, [table, column]);
  return row;
}

async function indexColumnsOf(conn: Connection, table: string, index: string): Promise<string[] | null> {
  const rows = await queryRows<{ col: string }>(conn,
    `SELECT COLUMN_NAME AS col FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX`, [table, index]);
  return rows.length ? rows.map((r) => String(r.col).toLowerCase()) : null;
}

/** SHOW CREATE TABLE without what says nothing about shape (counters, the foreign keys temporary tables lack). */
function shapeOf(createTable: string): string {
  return createTable
    .replace(/^CREATE TEMPORARY TABLE/, 'CREATE TABLE')
    .replace(/ AUTO_INCREMENT=\d+/, '')
    .split('\n').filter((line) => !/^\s*CONSTRAINT .* FOREIGN KEY /.test(line)).join('\n')
    .replace(/,\n\)/, '\n)');
}

async function showCreate(conn: Connection, table: string): Promise<string> {
  const [row] = await queryRows<Record<string, string>>(conn, `SHOW CREATE TABLE ${quoteIdentifier(table)}`);
  return row['Create Table'];
}

/**
 * An existing table has the shape the statement creates when a temporary table made by the same
 * statement (which hides the real one in this session) shows the same definition.
 */
async function sameShapeAsStatement(conn: Connection, table: string, code: string): Promise<DdlVerdict> {
  const probe = code.replace(/^CREATE\s+TABLE(\s+IF\s+NOT\s+EXISTS)?/i, 'CREATE TEMPORARY TABLE');
  try {
    await conn.query(probe);
  } catch (err) {
    return { state: 'undecidable', reason: `table ${table} exists, but its shape could not be compared (${(err as Error).message})` };
  }
  let wanted: string;
  try {
    wanted = await showCreate(conn, table);
  } finally {
    await conn.query(`DROP TEMPORARY TABLE ${quoteIdentifier(table)}`);
  }
  const actual = await showCreate(conn, table);
  return shapeOf(wanted) === shapeOf(actual)
    ? { state: 'applied' }
    : { state: 'undecidable', reason: `table ${table} exists but differs from what the statement creates` };
}

type ClauseVerdict = 'applied' | 'not-applied' | 'ignored' | string;

async function alterClause(conn: Connection, table: string, clause: string): Promise<ClauseVerdict> {
  const text = clause.trim();
  if (/^(ALGORITHM|LOCK)\s*=?/i.test(text)) return 'ignored';
  let m = new RegExp(`^ADD\\s+(?:UNIQUE\\s+|FULLTEXT\\s+|SPATIAL\\s+)?(?:INDEX|KEY)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${IDENT}\\s*(\\([\\s\\S]*\\))`, 'i').exec(text)
    ?? new RegExp(`^ADD\\s+UNIQUE\\s+${IDENT}\\s*(\\([\\s\\S]*\\))`, 'i').exec(text);
  if (m) {
    const have = await indexColumnsOf(conn, table, name(m, 1));
    if (!have) return 'not-applied';
    const want = indexColumns(m[3].replace(/\)[^)]*$/, ')'));
    return have.join(',') === want.join(',') ? 'applied' : `index ${name(m, 1)} exists on other columns (${have.join(', ')})`;
  }
  m = new RegExp(`^DROP\\s+(?:INDEX|KEY)\\s+(?:IF\\s+EXISTS\\s+)?${IDENT}\\s*$`, 'i').exec(text);
  if (m) return (await indexColumnsOf(conn, table, name(m, 1))) ? 'not-applied' : 'applied';
  if (/^ADD\s+(CONSTRAINT|PRIMARY|FOREIGN|CHECK|PERIOD|SYSTEM)\b/i.test(text)) return `"${text.slice(0, 40)}" cannot be checked in the catalogue`;
  m = new RegExp(`^ADD\\s+(?:COLUMN\\s+)?(?:IF\\s+NOT\\s+EXISTS\\s+)?${IDENT}\\s+([A-Za-z]+)([\\s\\S]*)$`, 'i').exec(text);
  if (m) {
    const column = await columnOf(conn, table, name(m, 1));
    if (!column) return 'not-applied';
    const wantType = m[3].toLowerCase();
    const wantNullable = /\bNOT\s+NULL\b/i.test(m[4]) ? 'NO' : /\bPRIMARY\s+KEY\b/i.test(m[4]) ? 'NO' : 'YES';
    const aliases: Record<string, string> = { integer: 'int', bool: 'tinyint', boolean: 'tinyint', dec: 'decimal', numeric: 'decimal' };
    if ((aliases[wantType] ?? wantType) !== String(column.type).toLowerCase() || wantNullable !== column.nullable) {
      return `column ${name(m, 1)} exists as ${column.type}${column.nullable === 'NO' ? ' NOT NULL' : ''}, not as the statement adds it`;
    }
    return 'applied';
  }
  m = new RegExp(`^DROP\\s+(?:COLUMN\\s+)?(?:IF\\s+EXISTS\\s+)?${IDENT}\\s*$`, 'i').exec(text);
  if (m) return (await columnOf(conn, table, name(m, 1))) ? 'not-applied' : 'applied';
  return `"${text.slice(0, 40)}" cannot be checked in the catalogue`;
}

/** Whether the DDL statement's effect is in the catalogue of the connection's database. */
export async function ddlEffect(conn: Connection, statement: string): Promise<DdlVerdict> {
  const code = leadingCode(statement).replace(/;\s*$/, '');
  let m = new RegExp(`^CREATE\\s+TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${IDENT}\\s*\\(`, 'i').exec(code);
  if (m) {
    const table = name(m, 1);
    return (await tableExists(conn, table)) ? sameShapeAsStatement(conn, table, code) : { state: 'not-applied' };
  }
  m = new RegExp(`^CREATE\\s+(?:UNIQUE\\s+|FULLTEXT\\s+|SPATIAL\\s+)?INDEX\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${IDENT}\\s+ON\\s+${IDENT}\\s*(\\([\\s\\S]*\\))`, 'i').exec(code);
  if (m) {
    const verdict = await alterClause(conn, name(m, 3), `ADD INDEX \`${name(m, 1)}\` ${m[5]}`);
    return verdict === 'applied' || verdict === 'not-applied' ? { state: verdict } : { state: 'undecidable', reason: verdict };
  }
  m = new RegExp(`^DROP\\s+INDEX\\s+(?:IF\\s+EXISTS\\s+)?${IDENT}\\s+ON\\s+${IDENT}`, 'i').exec(code);
  if (m) return (await indexColumnsOf(conn, name(m, 3), name(m, 1))) ? { state: 'not-applied' } : { state: 'applied' };
  m = new RegExp(`^DROP\\s+TABLE\\s+(?:IF\\s+EXISTS\\s+)?${IDENT}\\s*$`, 'i').exec(code);
  if (m) return (await tableExists(conn, name(m, 1))) ? { state: 'not-applied' } : { state: 'applied' };
  m = new RegExp(`^ALTER\\s+(?:ONLINE\\s+|IGNORE\\s+)?TABLE\\s+${IDENT}\\s+([\\s\\S]+)$`, 'i').exec(code);
  if (m) {
    const table = name(m, 1);
    if (!(await tableExists(conn, table))) return { state: 'undecidable', reason: `table ${table} does not exist` };
    const verdicts = [];
    for (const clause of splitTopLevel(m[3])) verdicts.push(await alterClause(conn, table, clause));
    const decided = verdicts.filter((v) => v !== 'ignored');
    const unknown = decided.find((v) => v !== 'applied' && v !== 'not-applied');
    if (unknown) return { state: 'undecidable', reason: unknown };
    if (decided.length && decided.every((v) => v === 'applied')) return { state: 'applied' };
    if (decided.every((v) => v === 'not-applied')) return { state: 'not-applied' };
    return { state: 'undecidable', reason: `only part of the ALTER TABLE ${table} is in the catalogue` };
  }
  // Statements written to be run again (IF NOT EXISTS, IF EXISTS, OR REPLACE) need no check.
  if (/^(CREATE\s+OR\s+REPLACE\b|CREATE\s+[\s\S]*?\bIF\s+NOT\s+EXISTS\b|DROP\s+[\s\S]*?\bIF\s+EXISTS\b)/i.test(code)) return { state: 'not-applied' };
  return { state: 'undecidable', reason: `"${code.split('\n')[0].slice(0, 60)}" cannot be checked in the catalogue` };
}
