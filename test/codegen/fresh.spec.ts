// CI's freshness check: the committed bindings/ are exactly what this checkout's routines generate.
import { expect } from 'chai';
import { testServerUrl } from '../../tools/harness/database';
import { withConnection } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { runCli } from '../helpers/cli';

describe('committed bindings', () => {
  it('are what the current routines generate (reminderly-db codegen --check --from-checkout)', async function () {
    this.timeout(300_000);
    const server = await withConnection(testServerUrl(), detectServer, { database: null });
    // The bindings are generated on MariaDB. MySQL 9.7's result metadata marks some expression
    // columns nullable where MariaDB does not (campaign_summary's `? AS campaign_id`), so the
    // same routines give `bigint | null` there: the check runs on the server they come from.
    if (server.flavour !== 'mariadb') this.skip();
    const result = runCli(['codegen', '--check', '--from-checkout', '--url', testServerUrl()]);
    expect(result.code, result.stdout + result.stderr).to.equal(0);
  });
});
