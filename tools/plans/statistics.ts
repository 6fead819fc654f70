// InnoDB statistics that say a table is empty, as a restarted server has them for a table whose
// statistics were never persisted (a big load, then a crash before InnoDB wrote them): the plan
// scenario "statistics": "empty" (plans/scenarios.empty-statistics.json) checks that the claim and
// complete statements keep their recorded plans even then (measured before they were pinned: a
// plain JOIN scanned the 30,000-row messages table on every claim after such a restart).
//
// What a crash leaves behind is what CREATE TABLE persisted: n_rows 0, one page per index, no
// distinct values. The reset writes exactly that into mysql.innodb_table_stats and
// mysql.innodb_index_stats for the database's tables and makes InnoDB read it back, the way a
// restart reads it (ServerInfo.statisticsReload: MySQL re-reads on FLUSH TABLE; MariaDB 10.11
// keeps what it holds in memory through FLUSH TABLE and re-reads on a RENAME TABLE round trip).
// Automatic recalculation is switched off for each table first (STATS_AUTO_RECALC = 0), so that
// the calls that follow, which change more than the 16 + 10 % rows that trigger it, cannot refresh
// the statistics behind the check's back. Then every table with rows is asked, through EXPLAIN,
// how many rows the optimiser now expects: if any still expects more than one, the reset did not
// take and the scenario stops instead of checking plans on fresh statistics.
import { OperationError } from '../errors';
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { ServerInfo } from '../sql/flavour';
import { explainJson, normaliseFor, prepareExplainSession } from './explain';

/** Prefix of the temporary names of MariaDB's RENAME TABLE round trip. */
const RENAME_SUFFIX = '__stats_reload';

export interface EmptyStatisticsReport {
  tables: number;
  /** Tables holding rows that the optimiser now estimates at one row or none. */
  believedEmpty: { table: string; rows: number; estimate: number }[];
}

/** The database's InnoDB base tables. */
async function innodbTables(conn: Connection, database: string): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(conn,
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' AND ENGINE = 'InnoDB' ORDER BY TABLE_NAME`, [database]);
  return rows.map((r) => r.name);
}

/** The optimiser's estimate of a full read of the table (EXPLAIN's rows). */
export async function estimatedRows(conn: Connection, server: Pick<ServerInfo, 'explainFormat'>, table: string): Promise<number> {
  const [row] = normaliseFor(server, await explainJson(conn, `SELECT * FROM ${quoteIdentifier(table)}`));
  return Number(row?.rows ?? 0);
}

/**
 * Gives every InnoDB table of `database` the statistics of a freshly created, empty table and has
 * the server load them, then checks that the optimiser believes each table with rows empty.
 * Needs UPDATE on mysql.innodb_table_stats / innodb_index_stats (root on a test server); only the
 * rows of `database` are written.
 */
export async function resetStatisticsToEmpty(conn: Connection, server: ServerInfo, database: string): Promise<EmptyStatisticsReport> {
  const tables = await innodbTables(conn, database);
  if (!tables.length) return { tables: 0, believedEmpty: [] };
  for (const t of tables) await conn.query(`ALTER TABLE ${quoteIdentifier(t)} STATS_PERSISTENT = 1, STATS_AUTO_RECALC = 0`);
  // One page per index, no rows, no distinct values: what CREATE TABLE writes.
  await conn.query(
    `UPDATE mysql.innodb_table_stats s
        SET s.n_rows = 0, s.clustered_index_size = 1,
            s.sum_of_other_index_sizes = (SELECT COUNT(DISTINCT i.index_name) FROM mysql.innodb_index_stats i
                                           WHERE i.database_name = s.database_name AND i.table_name = s.table_name AND i.index_name <> 'PRIMARY')
      WHERE s.database_name = ? AND s.table_name IN (?)`, [database, tables]);
  await conn.query(
    `UPDATE mysql.innodb_index_stats SET stat_value = IF(stat_name IN ('size', 'n_leaf_pages'), 1, 0)
      WHERE database_name = ? AND table_name IN (?)`, [database, tables]);
  if (server.statisticsReload === 'flush-table') {
    await conn.query(`FLUSH TABLES ${tables.map(quoteIdentifier).join(', ')}`);
  } else {
    for (const t of tables) {
      const aside = `${t.slice(0, 64 - RENAME_SUFFIX.length)}${RENAME_SUFFIX}`;
      await conn.query(`RENAME TABLE ${quoteIdentifier(t)} TO ${quoteIdentifier(aside)}, ${quoteIdentifier(aside)} TO ${quoteIdentifier(t)}`);
    }
  }
  await prepareExplainSession(conn, server);
  const believedEmpty: EmptyStatisticsReport['believedEmpty'] = [];
  const stale: string[] = [];
  for (const t of tables) {
    const [row] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${quoteIdentifier(t)}`);
    const rows = Number(row.n);
    if (rows <= 1) continue;
    const estimate = await estimatedRows(conn, server, t);
    if (estimate <= 1) believedEmpty.push({ table: t, rows, estimate });
    else stale.push(`${t} (${rows} rows, estimated ${estimate})`);
  }
  if (stale.length) {
    throw new OperationError(`the statistics reset did not take on ${server.flavour} ${server.version}: the optimiser still counts rows in ${stale.join(', ')}`);
  }
  return { tables: tables.length, believedEmpty };
}
