// Insert-only log tables and their rotated copies: the naming of rotated tables lives here only.
import { Connection, quoteIdentifier, queryRows } from '../sql/connection';

/**
 * Live log tables are `log_<name>`; a rotated one is `log_<name>__<from yyyymmdd>_<to yyyymmdd>_<stamp>`,
 * where stamp is the rotation's instant on the server clock (yyyymmddhhmmssffffff, microseconds).
 * The dates are for people; the stamp makes the name one no later rotation can produce, even after
 * the table was offloaded and dropped (its dump and manifest carry the same name). Tables rotated
 * before the stamp existed have no suffix or a small serial; they still parse.
 */
const ROTATED = /^(log_[a-z0-9_]+?)__(\d{8})_(\d{8})(?:_(\d+))?$/;
const LIVE = /^log_[a-z0-9_]+$/;
/** Every log table has this column; rotation ranges and offload ages are read from it. */
export const LOG_TIME_COLUMN = 'logged_at';

export interface RotatedTable {
  table: string;
  base: string;
  from: Date;
  to: Date;
}

function ymd(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}

function parseYmd(text: string): Date {
  return new Date(`${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}T00:00:00Z`);
}

export function rotatedTableName(base: string, from: Date, to: Date, stamp = ''): string {
  if (stamp && !/^\d+$/.test(stamp)) throw new Error(`bad rotation stamp "${stamp}"`);
  const name = `${base}__${ymd(from)}_${ymd(to)}${stamp ? `_${stamp}` : ''}`;
  if (name.length > 64) throw new Error(`${base}: the rotated name ${name} is longer than 64 characters; shorten the log table's name`);
  return name;
}

export function parseRotatedTableName(table: string): RotatedTable | null {
  const match = ROTATED.exec(table);
  if (!match) return null;
  // The range covers whole days: a table rotated on day D holds rows up to the end of D.
  const to = parseYmd(match[3]);
  to.setUTCDate(to.getUTCDate() + 1);
  return { table, base: match[1], from: parseYmd(match[2]), to };
}

export function isLiveLogTable(table: string): boolean {
  return LIVE.test(table) && !ROTATED.test(table) && !table.includes('__');
}

async function baseTables(conn: Connection): Promise<string[]> {
  // Constant schema filters only: an information_schema join whose other side scans every
  // database crashed MariaDB 10.11 here while other sessions dropped databases.
  const rows = await queryRows<{ name: string }>(conn,
    `SELECT c.TABLE_NAME AS name FROM information_schema.COLUMNS c
      WHERE c.TABLE_SCHEMA = DATABASE() AND c.COLUMN_NAME = ? AND c.TABLE_NAME LIKE 'log\\_%'
        AND c.TABLE_NAME IN (SELECT t.TABLE_NAME FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE')
      ORDER BY c.TABLE_NAME`, [LOG_TIME_COLUMN]);
  return rows.map((r) => r.name);
}

export async function liveLogTables(conn: Connection): Promise<string[]> {
  return (await baseTables(conn)).filter(isLiveLogTable);
}

export async function rotatedLogTables(conn: Connection): Promise<RotatedTable[]> {
  return (await baseTables(conn)).map(parseRotatedTableName).filter((r): r is RotatedTable => r !== null);
}

export interface RotationResult {
  table: string;
  rotatedTo: string | null;
  rows: number;
}

/**
 * Swaps each non-empty live log table for an empty copy with one RENAME TABLE, which the server
 * performs atomically: a writer sees either the old or the new table, never none. The rotated
 * table is first parked under a temporary name so that its date range is read after the swap,
 * when no writer can add to it any more.
 */
export async function rotateLogTables(conn: Connection, tables?: string[]): Promise<RotationResult[]> {
  const results: RotationResult[] = [];
  const existing = await baseTables(conn);
  // A run killed between the swap and the final rename left a parked table: name it now.
  for (const parked of existing.filter((t) => t.endsWith(PARKED_SUFFIX))) {
    results.push(await nameParkedTable(conn, parked.slice(0, -PARKED_SUFFIX.length), parked, existing));
  }
  for (const table of tables ?? (await liveLogTables(conn))) {
    const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${quoteIdentifier(table)}`);
    if (Number(n) === 0) {
      results.push({ table, rotatedTo: null, rows: 0 });
      continue;
    }
    const parked = table + PARKED_SUFFIX;
    const fresh = `${table}__fresh`.slice(0, 64);
    await conn.query(`DROP TABLE IF EXISTS ${quoteIdentifier(fresh)}`);
    await conn.query(`CREATE TABLE ${quoteIdentifier(fresh)} LIKE ${quoteIdentifier(table)}`);
    await conn.query(`RENAME TABLE ${quoteIdentifier(table)} TO ${quoteIdentifier(parked)}, ${quoteIdentifier(fresh)} TO ${quoteIdentifier(table)}`);
    results.push(await nameParkedTable(conn, table, parked, existing));
  }
  return results;
}

const PARKED_SUFFIX = '__rotating';

async function nameParkedTable(conn: Connection, table: string, parked: string, existing: string[]): Promise<RotationResult> {
  const [range] = await queryRows<{ first: Date; last: Date; n: number; stamp: string }>(conn,
    `SELECT MIN(${LOG_TIME_COLUMN}) AS first, MAX(${LOG_TIME_COLUMN}) AS last, COUNT(*) AS n,
            DATE_FORMAT(UTC_TIMESTAMP(6), '%Y%m%d%H%i%s%f') AS stamp FROM ${quoteIdentifier(parked)}`);
  const first = range.first ?? new Date();
  const last = range.last ?? first;
  // Two rotations of one table cannot share a microsecond (each waits for the other's RENAME),
  // but a clock stepped back could repeat one: step past any name still present.
  let stamp = BigInt(range.stamp);
  let name = rotatedTableName(table, first, last, String(stamp));
  while (existing.includes(name)) name = rotatedTableName(table, first, last, String(++stamp));
  await conn.query(`RENAME TABLE ${quoteIdentifier(parked)} TO ${quoteIdentifier(name)}`);
  existing.push(name);
  return { table, rotatedTo: name, rows: Number(range.n) };
}
