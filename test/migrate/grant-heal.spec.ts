// EXECUTE grants after a run killed between re-creating a routine and giving its grants back:
// the application user registered by `users apply`, the kill made exact by
// REMINDERLY_FAILPOINT=after-routine-recreate. `status` and `validate` (run by an administrator,
// who may read other accounts' grants) name the missing grant, the next `up` gives it back without
// any file changed, and the application user's CALL works again. `up` runs as the migrator (the
// routines' definer, the way the project runs migrations) and as an administrator: the migrator
// may not read another account's grants (SHOW GRANTS FOR needs SELECT on mysql.*), so its closing
// heal gives every expected grant again and counts them all, where an administrator's gives only
// what is missing. Users are server-wide: every name is unique to this run and dropped afterwards,
// also when a test fails.
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { ExitCode } from '../../tools/errors';
import { createThrowawayDatabase, testServerUrl, ThrowawayDatabase } from '../../tools/harness/database';
import { queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { accountsFor, Purpose } from '../../tools/users/accounts';
import { copyFixture, runCli } from '../helpers/cli';
import { dropAccounts, TestAccounts, uniqueAccounts } from './helpers';

const GRANTS = path.join(__dirname, 'fixtures', 'grants');

const WIDGET_NAMES = [
  "-- widget_names(): every widget's name, in id order.",
  '-- @grant application',
  'DROP PROCEDURE IF EXISTS widget_names;',
  'DELIMITER $$',
  'CREATE PROCEDURE widget_names()',
  'READS SQL DATA',
  'SQL SECURITY DEFINER',
  'BEGIN',
  '  SELECT name FROM widgets ORDER BY id;',
  'END$$',
  'DELIMITER ;',
  '',
].join('\n');

for (const runner of ['migrator', 'administrator'] as const) describe(`migrate up run by the ${runner} heals the EXECUTE grants a killed run left missing`, function () {
  this.timeout(120_000);
  let server: ServerInfo;
  let db: ThrowawayDatabase;
  let fixture: { dir: string; cleanup: () => void };
  let users: TestAccounts;

  const account = (purpose: Purpose) => accountsFor(users.prefix).find((a) => a.purpose === purpose)!;
  const urlAs = (purpose: Purpose) => {
    const url = new URL(db.url);
    url.username = account(purpose).user;
    url.password = encodeURIComponent(users.environment[account(purpose).passwordVariable]!);
    return url.toString();
  };
  const migrate = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['migrate', ...args, '--dir', fixture.dir, '--url', runner === 'migrator' ? urlAs('migrator') : db.url], env);
  /** status and validate as an administrator: reading another account's grants needs SELECT on mysql.*. */
  const inspect = (command: 'status' | 'validate') => runCli(['migrate', command, '--dir', fixture.dir, '--url', db.url]);
  const lines = (stdout: string) => stdout.split('\n').filter(Boolean);
  const missingLine = (routine: string) =>
    `grants: application user '${account('application').user}'@'%' lacks EXECUTE ON PROCEDURE \`${db.name}\`.\`${routine}\``;
  /** The line of a run that gave `given` grants; the migrator, blind to grants, gives all `expected`. */
  const restoredLine = (given: number, expected: number) =>
    `routine grants restored: ${runner === 'migrator' ? expected : given} for ${account('application').user}`;
  /**
   * The application user's CALL: its result set, or the server's error code. Connected without a
   * default database: an account with no grant left in it may not even select it.
   */
  const callAsApplication = (routine: string) => withConnection(urlAs('application'), async (c) => {
    try {
      const [sets] = await c.query(`CALL \`${db.name}\`.${routine}()`) as unknown as [unknown[][]];
      return sets[0];
    } catch (err) {
      return (err as { code?: string }).code;
    }
  }, { database: null });

  before(async () => {
    server = await withConnection(testServerUrl(), detectServer, { database: null });
  });
  beforeEach(async () => {
    db = await createThrowawayDatabase('grantheal');
    fixture = copyFixture(GRANTS);
    users = uniqueAccounts();
    const apply = runCli(['users', 'apply', '--url', db.url, '--prefix', users.prefix, '--dir', fixture.dir], users.environment);
    expect(apply.code, apply.stderr).to.equal(0);
    const first = migrate(['up']);
    expect(first.code, first.stderr).to.equal(0);
    expect(lines(first.stdout)).to.include(restoredLine(1, 1));
    expect(await callAsApplication('widget_count')).to.deep.equal([{ n: 3 }]);
  });
  afterEach(async () => {
    fixture.cleanup();
    await db.drop();
    await dropAccounts(db.serverUrl, users.names);
  });

  it('a new @grant routine, killed after its CREATE: status and validate name the missing grant, the next up gives it back', async () => {
    fs.writeFileSync(path.join(fixture.dir, 'procedures', 'widget_names.sql'), WIDGET_NAMES);
    const killed = migrate(['up'], { REMINDERLY_FAILPOINT: 'after-routine-recreate' });
    expect(killed.code, 'killed by SIGKILL').to.equal(-1);
    expect(await withConnection(db.url, (c) => queryRows(c,
      "SELECT COUNT(*) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'widget_names'")))
      .to.deep.equal([{ n: 1 }]);
    expect(await callAsApplication('widget_names')).to.equal('ER_PROCACCESS_DENIED_ERROR');

    const status = inspect('status');
    expect(status.code, status.stderr).to.equal(0);
    expect(lines(status.stdout).filter((l) => l.startsWith('grants: '))).to.deep.equal([missingLine('widget_names')]);
    const validate = inspect('validate');
    expect(validate.code).to.equal(ExitCode.Findings);
    expect(lines(validate.stdout)).to.deep.equal([
      // MariaDB sends the file as one CREATE OR REPLACE; MySQL as written, DROP then CREATE.
      `procedures/widget_names.sql: interrupted at statement ${server.routineReplace === 'create-or-replace' ? 1 : 2} (the run applying it died)`,
      missingLine('widget_names'),
    ]);
    expect(validate.stderr).to.contain('2 problem(s)');

    const next = migrate(['up']);
    expect(next.code, next.stderr).to.equal(0);
    expect(lines(next.stdout), next.stdout).to.include(restoredLine(1, 2));
    expect(next.stdout.match(/^applied +\S+/gm)).to.deep.equal(['applied      procedures/widget_names.sql']);
    expect(await callAsApplication('widget_names')).to.deep.equal([{ name: 'first' }, { name: 'second' }, { name: 'third' }]);
    expect(await callAsApplication('widget_count')).to.deep.equal([{ n: 3 }]);
    expect(lines(inspect('status').stdout).filter((l) => l.startsWith('grants: '))).to.deep.equal([]);
    const clean = inspect('validate');
    expect(clean.code, clean.stdout).to.equal(0);
  });

  it('a changed routine, killed after its re-CREATE: MySQL dropped the grant with the old routine (reported, then given back); MariaDB\'s CREATE OR REPLACE kept it', async () => {
    const file = path.join(fixture.dir, 'procedures', 'widget_count.sql');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('COUNT(*) AS n', 'COUNT(*) AS total'));
    const killed = migrate(['up'], { REMINDERLY_FAILPOINT: 'after-routine-recreate' });
    expect(killed.code, 'killed by SIGKILL').to.equal(-1);
    const kept = server.routineReplace === 'create-or-replace';
    // The routine is the new one either way; only MySQL's DROP + CREATE took the grant with it.
    expect(await callAsApplication('widget_count')).to.deep.equal(kept ? [{ total: 3 }] : 'ER_PROCACCESS_DENIED_ERROR');

    const expected = kept ? [] : [missingLine('widget_count')];
    const status = inspect('status');
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(new RegExp(`^interrupted +procedures/widget_count\\.sql at statement ${kept ? 1 : 2}$`, 'm'));
    expect(lines(status.stdout).filter((l) => l.startsWith('grants: '))).to.deep.equal(expected);
    const validate = inspect('validate');
    expect(validate.code).to.equal(ExitCode.Findings);
    expect(lines(validate.stdout)).to.deep.equal([
      `procedures/widget_count.sql: interrupted at statement ${kept ? 1 : 2} (the run applying it died)`, ...expected]);

    const next = migrate(['up']);
    expect(next.code, next.stderr).to.equal(0);
    expect(next.stdout.match(/^applied +\S+/gm)).to.deep.equal(['applied      procedures/widget_count.sql']);
    // The re-applied routine is granted right after its CREATE on both servers.
    expect(lines(next.stdout)).to.include(restoredLine(1, 1));
    expect(await callAsApplication('widget_count')).to.deep.equal([{ total: 3 }]);
    const clean = inspect('validate');
    expect(clean.code, clean.stdout).to.equal(0);
  });

  it('a grant revoked by hand: status and validate name it, and the next up, with nothing to apply, gives it back', async () => {
    await withConnection(db.url, (c) => c.query(`REVOKE EXECUTE ON PROCEDURE \`${db.name}\`.widget_count FROM ?@'%'`, [account('application').user]));
    expect(await callAsApplication('widget_count')).to.equal('ER_PROCACCESS_DENIED_ERROR');
    expect(lines(inspect('status').stdout).filter((l) => l.startsWith('grants: '))).to.deep.equal([missingLine('widget_count')]);
    const validate = inspect('validate');
    expect(validate.code).to.equal(ExitCode.Findings);
    expect(lines(validate.stdout)).to.deep.equal([missingLine('widget_count')]);

    const next = migrate(['up']);
    expect(next.code, next.stderr).to.equal(0);
    expect(lines(next.stdout)).to.deep.equal([`${db.name}: nothing to apply, the database is up to date`, restoredLine(1, 1)]);
    expect(await callAsApplication('widget_count')).to.deep.equal([{ n: 3 }]);
    expect(inspect('validate').code).to.equal(0);
    // Nothing missing now: an administrator's run gives nothing; the migrator's gives its one grant again.
    const again = migrate(['up']);
    expect(lines(again.stdout)).to.deep.equal([`${db.name}: nothing to apply, the database is up to date`,
      ...(runner === 'migrator' ? [restoredLine(0, 1)] : [])]);
  });
});
