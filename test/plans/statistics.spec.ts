// The empty-statistics reset behind plans/scenarios.empty-statistics.json, on the server under test
// (it needs no private server: only the throwaway database's rows of InnoDB's statistics tables are
// written): afterwards the optimiser believes a 5,000-row table empty, as a server restarted before
// InnoDB persisted the table's statistics does, and a plain JOIN by an indexed column that used the
// index with fresh statistics reads the whole table instead.
import { expect } from 'chai';
import { explainStatement, prepareExplainSession } from '../../tools/plans/explain';
import { estimatedRows, resetStatisticsToEmpty } from '../../tools/plans/statistics';
import { Connection, queryRows } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('plans: statistics reset to an empty table\'s', function () {
  this.timeout(60_000);
  const db = useThrowawayDatabase({ label: 'stats' });
  let conn: Connection;
  let server: ServerInfo;

  before(async () => {
    conn = await db.connect();
    server = await detectServer(conn);
    await prepareExplainSession(conn, server);
    await conn.query('CREATE TABLE stats_probe (id INT UNSIGNED NOT NULL PRIMARY KEY, a INT UNSIGNED NOT NULL, note VARCHAR(40) NOT NULL, KEY ix_stats_probe_a (a)) ENGINE = InnoDB');
    await conn.query('CREATE TABLE stats_empty (id INT UNSIGNED NOT NULL PRIMARY KEY) ENGINE = InnoDB');
    const rows = Array.from({ length: 5000 }, (_, i) => [i + 1, i % 500, `row ${i}`]);
    await conn.query('INSERT INTO stats_probe (id, a, note) VALUES ?', [rows]);
    await conn.query('ANALYZE TABLE stats_probe, stats_empty');
  });
  after(async () => { await conn?.end(); });

  const persisted = async () => Number((await queryRows<{ n: number }>(conn,
    "SELECT n_rows AS n FROM mysql.innodb_table_stats WHERE database_name = DATABASE() AND table_name = 'stats_probe'"))[0].n);
  // A few ids joined to the table by an indexed column, with a plain JOIN, as the claim joined its messages.
  const lookup = async () => (await explainStatement(conn, server,
    "SELECT p.note FROM JSON_TABLE('[1, 2, 3]', '$[*]' COLUMNS (x INT UNSIGNED PATH '$')) AS j JOIN stats_probe p ON p.a = j.x"))
    .find((r) => r.table === 'stats_probe')!;

  it('makes the optimiser believe the table empty, keeps its rows, and stops automatic recalculation', async () => {
    expect(await estimatedRows(conn, server, 'stats_probe')).to.be.greaterThan(1000);
    expect(await persisted()).to.be.greaterThan(1000);
    expect(await lookup()).to.include({ access: 'ref', index: 'ix_stats_probe_a' });

    const report = await resetStatisticsToEmpty(conn, server, db.name);
    expect(report.tables).to.equal(2);
    // The empty table is not counted: an empty table's estimate says nothing.
    expect(report.believedEmpty).to.deep.equal([{ table: 'stats_probe', rows: 5000, estimate: report.believedEmpty[0].estimate }]);
    expect(report.believedEmpty[0].estimate).to.be.at.most(1);
    expect(await persisted()).to.equal(0);
    const [{ n }] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM stats_probe');
    expect(Number(n)).to.equal(5000);
    const [{ options }] = await queryRows<{ options: string }>(conn,
      "SELECT LOWER(CREATE_OPTIONS) AS options FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'stats_probe'");
    // So that the calls after it (more than 16 changed rows recalculate an "empty" table) cannot refresh them.
    expect(options).to.contain('stats_auto_recalc=0');

    // Believing it empty, the optimiser no longer bothers with the index: what a plain JOIN on the
    // claim path did after a restart.
    const misled = await lookup();
    expect(misled.access, JSON.stringify(misled)).to.equal('ALL');
  });
});
