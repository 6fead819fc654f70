// Every pipeline file runs unchanged through the server's own command-line client (DELIMITER and
// all), as a DBA would apply it, and builds the same routines the migrator does.
import { expect } from 'chai';
import { migrateUp } from '../../tools/migrate/migrator';
import { queryRows } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { clientFor, pipelineFiles, PIPELINE_ROUTINES, runSqlFile } from './helpers';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('pipeline files through the mysql client', function () {
  this.timeout(120_000);
  const db = useThrowawayDatabase({ label: 'pipeclient' });

  it('applies the pipeline\'s schema version and routines with the command-line client', async () => {
    // The data model first (up to the last version before the pipeline's), by the migrator.
    await migrateUp({ url: db.url, to: 39, quiet: true });
    const conn = await db.connect();
    try {
      const client = clientFor((await detectServer(conn)).flavour);
      for (const file of pipelineFiles()) runSqlFile(client, db.url, file);
      const routines = await queryRows<{ name: string }>(conn,
        "SELECT ROUTINE_NAME AS name FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE'");
      expect(routines.map((r) => r.name)).to.include.members(PIPELINE_ROUTINES);
      const [kind] = await queryRows<{ n: number }>(conn, "SELECT COUNT(*) AS n FROM campaign_template_steps WHERE table_kind = 'ready_queue'");
      expect(Number(kind.n)).to.equal(1);
    } finally {
      await conn.end();
    }
  });
});
