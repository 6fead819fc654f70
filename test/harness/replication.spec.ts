// The replication harness itself: a pair that replicates, waitForReplica that means "applied", and
// teardown that leaves nothing behind, also when the pair fails to start (MariaDB leg only: see
// test/replicas/helpers.ts).
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import { testServerUrl } from '../../tools/harness/database';
import { SERVER_DIR_PREFIX, serverSupportsPrivateStart } from '../../tools/harness/private-server';
import { startReplication, stopApplier, startReplica, waitForReplica } from '../../tools/harness/replication';
import { queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { MYSQL_SKIP_REASON } from '../replicas/helpers';

const serverDirs = (role: string) => fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith(`${SERVER_DIR_PREFIX}${role}-`));

describe('harness: primary and replica', function () {
  this.timeout(180_000);

  before(async function () {
    const server = await withConnection(testServerUrl(), detectServer, { database: null });
    if (server.flavour === 'mysql') {
      console.log(`      skipped: ${MYSQL_SKIP_REASON}`);
      this.skip();
    }
    if (!serverSupportsPrivateStart()) this.skip();
  });

  it('replicates the primary into a read_only replica; waitForReplica returns once a write is applied; stop() removes both', async () => {
    const pair = await startReplication();
    try {
      const variables = (url: string) => withConnection(url, async (conn) =>
        (await queryRows<{ id: number; ro: number }>(conn, 'SELECT @@server_id AS id, @@read_only AS ro'))[0], { database: null });
      expect(await variables(pair.primary.url)).to.deep.equal({ id: 1, ro: 0 });
      expect(await variables(pair.replica.url)).to.deep.equal({ id: 2, ro: 1 });

      await withConnection(pair.primary.url, async (conn) => {
        await conn.query('CREATE DATABASE probe');
        await conn.query('CREATE TABLE probe.notes (id INT PRIMARY KEY)');
        await conn.query('INSERT INTO probe.notes VALUES (1), (2), (3)');
      }, { database: null });
      await waitForReplica(pair);
      const rows = await withConnection(pair.replica.url, (conn) => queryRows(conn, 'SELECT COUNT(*) AS n FROM probe.notes'), { database: null });
      expect(Number(rows[0].n)).to.equal(3);

      // With the applier stopped nothing more can be applied: waitForReplica says so at once.
      await stopApplier(pair);
      await withConnection(pair.primary.url, (conn) => conn.query('INSERT INTO probe.notes VALUES (4)'), { database: null });
      const err = await waitForReplica(pair, 5).then(() => null, (e: Error) => e);
      expect(err?.message).to.equal(`replica on port ${pair.replica.port} is not replicating`);
      await startReplica(pair);
      await waitForReplica(pair);
    } finally {
      await pair.stop();
    }
    expect(fs.existsSync(pair.primary.dataDir)).to.equal(false);
    expect(fs.existsSync(pair.replica.dataDir)).to.equal(false);
  });

  it('a pair whose replica cannot start stops its primary and leaves no server directory behind', async () => {
    const before = { primary: serverDirs('primary'), replica: serverDirs('replica') };
    const err = await startReplication({ replicaArgs: ['--no-such-option'] }).then((p) => p.stop().then(() => null), (e: Error) => e);
    expect(err?.message).to.match(/exited during startup/);
    expect({ primary: serverDirs('primary'), replica: serverDirs('replica') }).to.deep.equal(before);
  });
});
