// A checksum of a table's rows that is the same wherever the rows are (source, restored copy):
// every column rendered as text, hashed per row (SHA2: MySQL 9.7 has no MD5), and the per-row
// hashes summed. A sum (not XOR) so that duplicated rows change it; combined with the row count.
import { Connection, quoteIdentifier, queryRows } from '../sql/connection';

export interface TableChecksum {
  rows: number;
  checksum: string;
}

export async function tableChecksum(conn: Connection, database: string, table: string, where = ''): Promise<TableChecksum> {
  const columns = await queryRows<{ name: string }>(conn,
    'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [database, table]);
  if (!columns.length) throw new Error(`table ${database}.${table} does not exist`);
  // HEX() keeps binary, NULL and separators unambiguous; 'N' marks NULL, which HEX never returns.
  const rowText = `CONCAT_WS(',', ${columns.map((c) => `IFNULL(HEX(${quoteIdentifier(c.name)}), 'N')`).join(', ')})`;
  const [row] = await queryRows<{ n: number; s: string | null }>(conn,
    `SELECT COUNT(*) AS n, CAST(SUM(CAST(CONV(SUBSTRING(SHA2(${rowText}, 256), 1, 15), 16, 10) AS UNSIGNED)) AS CHAR) AS s
       FROM ${quoteIdentifier(database)}.${quoteIdentifier(table)} ${where}`);
  return { rows: Number(row.n), checksum: row.s ?? '0' };
}
