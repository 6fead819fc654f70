// Commands that change the database refuse a replica (tools/sql/primary.ts): run through the real
// CLI against a real replica (MariaDB leg only: see helpers.ts), they exit 1 with one line naming
// the server and why, and the replica is exactly as before.
import { expect } from 'chai';
import { queryRows, withConnection, withDatabase } from '../../tools/sql/connection';
import { stopReplica, startReplica, waitForReplica } from '../../tools/harness/replication';
import { runCli } from '../helpers/cli';
import { DATABASE, useReplicatedDatabase } from './helpers';

describe('replicas: primary-only commands refuse a replica (real primary and replica)', function () {
  this.timeout(120_000);
  const db = useReplicatedDatabase();

  /** What a command could have changed on a server: its databases, the tables of ours, the migration ledger. */
  const stateOf = (serverUrl: string) => withConnection(serverUrl, async (conn) => ({
    databases: (await queryRows<{ Database: string }>(conn, 'SHOW DATABASES')).map((r) => r.Database),
    tables: (await queryRows<{ name: string; rows: number }>(conn,
      `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${DATABASE}' ORDER BY TABLE_NAME`)).map((r) => r.name),
    ledger: await queryRows(conn, `CHECKSUM TABLE ${DATABASE}.migration_ledger, ${DATABASE}.campaign_sets`),
  }), { database: null });

  const expectRefused = (args: string[], what: string, why: RegExp) => {
    const result = runCli(args);
    expect(result.code, result.stderr).to.equal(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).to.have.length(1);
    expect(lines[0]).to.include(`${what} refused: 127.0.0.1:${db.pair.replica.port}`);
    expect(lines[0]).to.match(why);
    expect(result.stdout).to.equal('');
  };
  const replicating = new RegExp(`is a replica \\(replicating from 127\\.0\\.0\\.1:\\d+\\); run it on the primary$`);

  it('migrate up exits 1 naming the replica and its primary, and creates nothing (not even the database it names)', async () => {
    const before = await stateOf(db.pair.replica.url);
    expectRefused(['migrate', 'up', '--url', withDatabase(db.pair.replica.url, 'reminderly_fresh')], 'migrate up', replicating);
    expectRefused(['migrate', 'up', '--url', db.replicaUrl], 'migrate up', replicating);
    expect(await stateOf(db.pair.replica.url)).to.deep.equal(before);
    expect(before.databases).to.not.include('reminderly_fresh');
  });

  it('campaign create exits 1 and creates no table set', async () => {
    const before = await stateOf(db.pair.replica.url);
    expectRefused(['campaign', 'create', '77', '--url', db.replicaUrl], 'campaign create', replicating);
    const after = await stateOf(db.pair.replica.url);
    expect(after).to.deep.equal(before);
    expect(after.tables.filter((t) => t.startsWith('campaign_77'))).to.deep.equal([]);
  });

  it('maintenance run exits 1 and rotates, moves and drops nothing', async () => {
    const before = await stateOf(db.pair.replica.url);
    expectRefused(['maintenance', 'run', '--url', db.replicaUrl], 'maintenance run', replicating);
    expect(await stateOf(db.pair.replica.url)).to.deep.equal(before);
  });

  it('still refuses a replica whose replication threads are stopped', async () => {
    await stopReplica(db.pair);
    try {
      expectRefused(['migrate', 'down', '--count', '1', '--url', db.replicaUrl], 'migrate down',
        /is a replica \(configured to replicate, threads stopped, from 127\.0\.0\.1:\d+\); run it on the primary$/);
    } finally {
      await startReplica(db.pair);
    }
  });

  it('refuses a server running read_only=ON without replication, and accepts the primary', async () => {
    const up = runCli(['migrate', 'up', '--url', db.primaryUrl]);
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.match(/nothing to apply, the database is up to date/);

    await withConnection(db.pair.primary.url, (conn) => conn.query('SET GLOBAL read_only = ON'), { database: null });
    try {
      const result = runCli(['campaign', 'upgrade', '--all', '--url', db.primaryUrl]);
      expect(result.code, result.stderr).to.equal(1);
      expect(result.stderr.trim()).to.equal(`reminderly-db: campaign upgrade refused: 127.0.0.1:${db.pair.primary.port} runs with read_only=ON ` +
        '(a replica, or a primary being switched over); run it on the primary');
    } finally {
      await withConnection(db.pair.primary.url, (conn) => conn.query('SET GLOBAL read_only = OFF'), { database: null });
    }
    await waitForReplica(db.pair);
  });
});
