// `migrate up` killed with kill -9 at the awkward moments, then resumed, through the CLI as a DBA
// runs it: during a long INSERT ... SELECT the server is still executing, during a long ALTER
// TABLE, between two statements, and while routines are re-created. Only the client process is
// killed (SIGKILL); the server is left to finish or roll back the statement on its own. Every
// statement's effect is counted afterwards: exactly once, never twice.
import { expect } from 'chai';
import { ChildProcess } from 'child_process';
import fs from 'fs';
import path from 'path';
import { ExitCode } from '../../tools/errors';
import { createThrowawayDatabase, testServerUrl, ThrowawayDatabase } from '../../tools/harness/database';
import { Connection, queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { copyFixture, runCli, runCliAsync, waitFor } from '../helpers/cli';

const RESUME = path.join(__dirname, 'fixtures', 'resume');
const BASIC = path.join(__dirname, 'fixtures', 'basic');

const STEPS = 'seeds/V0002__steps';
const MILLION = 'seeds/V0003__a_million_rows';
const LABEL = 'schema/V0004__big_label';

interface LedgerRow {
  status: string;
  statements_done: number;
  statements_total: number;
  thread_id: number | null;
}

/** One fixture copy and one throwaway database (the server's default collation) per test. */
function useProject(fixture: string) {
  const project = {
    db: {} as ThrowawayDatabase,
    dir: '',
    children: [] as ChildProcess[],
    connections: [] as Connection[],
    cleanup: () => undefined as void,
  };
  beforeEach(async () => {
    project.db = await createThrowawayDatabase('resume');
    const copy = copyFixture(fixture);
    project.dir = copy.dir;
    project.cleanup = copy.cleanup;
  });
  afterEach(async function () {
    this.timeout(120_000);
    for (const child of project.children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const conn of project.connections.splice(0)) await conn.end().catch(() => conn.destroy());
    project.cleanup();
    // Waits, if a test failed early, for a statement the server still runs in the database.
    await project.db.drop();
  });
  return project;
}

describe('migrate up killed with kill -9, resumed (fixture project)', function () {
  this.timeout(120_000);
  const project = useProject(RESUME);
  const migrate = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['migrate', ...args, '--dir', project.dir, '--url', project.db.url], env);
  const migrateAsync = (args: string[]) => {
    const run = runCliAsync(['migrate', ...args, '--dir', project.dir, '--url', project.db.url]);
    project.children.push(run.child);
    return run;
  };
  const rows = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    withConnection(project.db.url, (c) => queryRows<T>(c, sql, params));
  const ledgerRow = async (name: string) => (await rows<LedgerRow>(
    'SELECT status, statements_done, statements_total, thread_id FROM migration_ledger WHERE name = ?', [name]))
    .map((r) => ({ ...r, thread_id: r.thread_id === null ? null : Number(r.thread_id) }))[0];
  const recorded = async () => (await rows<{ name: string }>('SELECT name FROM migrations ORDER BY id')).map((r) => r.name);
  const threadAlive = async (id: number) => (await rows('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [id])).length > 0;
  /** The server thread executing a statement that contains `text`, once the server shows one. */
  const statementThread = async (text: string) => {
    let id = 0;
    await waitFor(async () => {
      const found = await rows<{ ID: number }>(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB = DATABASE() AND INFO LIKE CONCAT('%', ?, '%')", [text]);
      id = found.length ? Number(found[0].ID) : 0;
      return found.length === 1;
    }, 60_000, `the server to execute "${text}"`);
    return id;
  };
  /** A killed run's thread ends once the server has finished or rolled back its statement and seen the closed socket. */
  const threadGone = (id: number) => waitFor(async () => !(await threadAlive(id)), 90_000, `server thread ${id} to end`);
  const oneLine = (stderr: string) => stderr.trim().split('\n');

  it('killed during a long INSERT ... SELECT: while the server still runs it, status and up --resume name its thread and change nothing; afterwards up --resume inserts the million rows once', async () => {
    const first = migrate(['up', '--to', '2']);
    expect(first.code, first.stderr).to.equal(0);
    // The statement reads digits with shared locks (REPEATABLE READ): holding one digit FOR UPDATE
    // keeps it executing on the server, provably, for as long as the checks below take on a busy
    // machine. Released, it inserts its million rows; the server then finds the client gone and
    // rolls them back.
    const blocker = await project.db.connect();
    project.connections.push(blocker);
    await blocker.beginTransaction();
    await blocker.query('SELECT d FROM digits WHERE d = 9 FOR UPDATE');

    const run = migrateAsync(['up', '--to', '3']);
    const thread = await statementThread('INSERT INTO big (n)');
    run.child.kill('SIGKILL');
    const killed = await run.done;
    expect(killed.code, 'killed by SIGKILL').to.equal(-1);
    expect(killed.stderr).to.contain(`applying ${MILLION}.sql (1 statements)`);
    const left = await ledgerRow(MILLION);
    expect(left).to.deep.equal({ status: 'running', statements_done: 0, statements_total: 1, thread_id: thread });

    const status = migrate(['status']);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(new RegExp(`^running +${MILLION}\\.sql at statement 1$`, 'm'));
    const message = `statement 1 of ${MILLION}.sql is still running on the server as thread ${thread}: wait for it or KILL ${thread}`;
    expect(status.stdout.split('\n')).to.include(message);
    for (const args of [['up', '--resume'], ['up', '--resume', '--to', '3'], ['up']]) {
      const refused = migrate(args);
      expect(refused.code, `${args.join(' ')}: ${refused.stderr}`).to.equal(ExitCode.Failure);
      expect(oneLine(refused.stderr)).to.deep.equal([`reminderly-db: ${message}`]);
      expect(refused.stdout).to.equal('');
    }
    expect(await threadAlive(thread), 'the statement was still executing during the checks').to.equal(true);
    expect(await ledgerRow(MILLION)).to.deep.equal(left);
    expect(await recorded()).to.deep.equal(['schema/V0001__counting_tables', STEPS]);
    expect(await rows('SELECT COUNT(*) AS n FROM big')).to.deep.equal([{ n: 0 }]);

    await blocker.rollback();
    await threadGone(thread);
    // The statement and its "statement 1 done" row were one transaction: rolled back together.
    expect(await rows('SELECT COUNT(*) AS n FROM big')).to.deep.equal([{ n: 0 }]);
    const after = migrate(['status']);
    expect(after.stdout).to.match(new RegExp(`^interrupted +${MILLION}\\.sql at statement 1$`, 'm'));
    expect(after.stdout).not.to.contain('still running');

    const resumed = migrate(['up', '--resume', '--to', '3']);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(resumed.stdout).to.match(new RegExp(`^applied +${MILLION}\\.sql \\(1 statements, \\d+ ms\\)$`, 'm'));
    expect(await rows('SELECT COUNT(*) AS n, COUNT(DISTINCT n) AS different, MIN(n) AS low, MAX(n) AS high FROM big'))
      .to.deep.equal([{ n: 1_000_000, different: 1_000_000, low: 0, high: 999_999 }]);
    expect(await ledgerRow(MILLION)).to.include({ status: 'applied', statements_done: 1 });
    expect(await recorded()).to.deep.equal(['schema/V0001__counting_tables', STEPS, MILLION]);
  });

  it('killed during a long ALTER TABLE: once the server finished it, up --resume finds the column in the catalogue, skips the statement and runs the rest once', async () => {
    const first = migrate(['up', '--to', '3']);
    expect(first.code, first.stderr).to.equal(0);
    const run = migrateAsync(['up']);
    const thread = await statementThread('ALTER TABLE big ADD COLUMN label');
    run.child.kill('SIGKILL');
    expect((await run.done).code, 'killed by SIGKILL').to.equal(-1);
    expect(await ledgerRow(LABEL)).to.deep.equal({ status: 'running', statements_done: 0, statements_total: 2, thread_id: thread });

    // DDL commits by itself: the server copies the table to the end whether or not the client is there.
    await threadGone(thread);
    const labelColumns = () => rows("SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'big' AND COLUMN_NAME = 'label'");
    expect(await labelColumns(), 'the ALTER completed on the server').to.deep.equal([{ n: 1 }]);
    expect(await ledgerRow(LABEL)).to.include({ status: 'running', statements_done: 0 });

    const refused = migrate(['up']);
    expect(refused.code).to.equal(ExitCode.Usage);
    expect(oneLine(refused.stderr)).to.have.length(1);
    expect(refused.stderr).to.contain(`${LABEL}.sql interrupted at statement 1`);

    const resumed = migrate(['up', '--resume']);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.contain(`${LABEL}.sql: statement 1 took effect before the run died (the catalogue shows it): marked done`);
    expect(resumed.stderr).to.contain(`applying ${LABEL}.sql from statement 2 (1 statements)`);
    expect(resumed.stdout).to.match(new RegExp(`^applied +${LABEL}\\.sql \\(1 statements, \\d+ ms\\)$`, 'm'));
    expect(await labelColumns()).to.deep.equal([{ n: 1 }]);
    expect(await rows("SELECT what, COUNT(*) AS n FROM marks GROUP BY what ORDER BY what")).to.deep.equal([
      { what: 'after the label', n: 1 }, { what: 'step 1', n: 1 }, { what: 'step 4', n: 1 }]);
    expect(await rows('SELECT COUNT(*) AS n FROM big')).to.deep.equal([{ n: 1_000_000 }]);
    expect(await ledgerRow(LABEL)).to.include({ status: 'applied', statements_done: 2, statements_total: 2 });
    expect((await recorded()).filter((n) => n === LABEL)).to.have.length(1);
    const again = migrate(['up']);
    expect(again.stdout).to.contain('nothing to apply');
  });

  for (const n of [1, 2, 3, 4]) {
    it(`killed right after statement ${n} of 4 (REMINDERLY_FAILPOINT=after-statement-${n}): up --resume starts at statement ${n + 1}, every statement took effect once`, async () => {
      const first = migrate(['up', '--to', '1']);
      expect(first.code, first.stderr).to.equal(0);
      const killed = migrate(['up', '--to', '2'], { REMINDERLY_FAILPOINT: `after-statement-${n}` });
      expect(killed.code, 'killed by SIGKILL').to.equal(-1);
      const left = await ledgerRow(STEPS);
      expect([left.status, left.statements_done, left.statements_total]).to.deep.equal(['running', n, 4]);
      await threadGone(left.thread_id!);

      const refused = migrate(['up']);
      expect(refused.code).to.equal(ExitCode.Usage);
      expect(refused.stderr).to.contain(`${STEPS}.sql interrupted at statement ${n + 1}`);
      const resumed = migrate(['up', '--resume', '--to', '2']);
      expect(resumed.code, resumed.stderr).to.equal(0);
      expect(resumed.stderr).to.contain(`applying ${STEPS}.sql from statement ${n + 1} (${4 - n} statements)`);
      expect(resumed.stdout).to.match(new RegExp(`^applied +${STEPS}\\.sql \\(${4 - n} statements, \\d+ ms\\)$`, 'm'));

      expect(await rows('SELECT what, COUNT(*) AS n FROM marks GROUP BY what ORDER BY what'))
        .to.deep.equal([{ what: 'step 1', n: 1 }, { what: 'step 4', n: 1 }]);
      expect(await rows('SELECT k, n, touched FROM tally')).to.deep.equal([{ k: 'steps', n: 1, touched: 1 }]);
      expect(await ledgerRow(STEPS)).to.include({ status: 'applied', statements_done: 4 });
      expect(await recorded()).to.deep.equal(['schema/V0001__counting_tables', STEPS]);
    });
  }
});

describe('migrate up killed with kill -9 while re-creating routines (fixture project)', function () {
  this.timeout(120_000);
  const project = useProject(BASIC);
  let server: ServerInfo;
  const migrate = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['migrate', ...args, '--dir', project.dir, '--url', project.db.url], env);
  const rows = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    withConnection(project.db.url, (c) => queryRows<T>(c, sql, params));
  const call = async (sql: string) => withConnection(project.db.url, async (c) => {
    const [sets] = await c.query(sql) as unknown as [unknown[][]];
    return sets[0];
  });
  const routines = () => rows<{ name: string; n: number }>(
    "SELECT ROUTINE_NAME AS name, COUNT(*) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() GROUP BY ROUTINE_NAME ORDER BY ROUTINE_NAME");
  const procedures = () => path.join(project.dir, 'procedures');
  const edit = (file: string, from: string, to: string) => {
    const full = path.join(procedures(), file);
    const text = fs.readFileSync(full, 'utf8');
    expect(text).to.contain(from);
    fs.writeFileSync(full, text.replace(from, to));
  };

  before(async () => {
    server = await withConnection(testServerUrl(), detectServer, { database: null });
  });
  beforeEach(() => {
    fs.writeFileSync(path.join(procedures(), 'widget_names.sql'), [
      "-- widget_names(): every widget's name, in id order.",
      'DROP PROCEDURE IF EXISTS widget_names;',
      'DELIMITER $$',
      'CREATE PROCEDURE widget_names()',
      'READS SQL DATA',
      'BEGIN',
      '  SELECT name FROM widgets ORDER BY id;',
      'END$$',
      'DELIMITER ;',
      '',
    ].join('\n'));
  });

  for (const point of ['after-routine-recreate', 'after-statement-1']) {
    it(`REMINDERLY_FAILPOINT=${point} in the first changed routine: the next up (nothing changed) re-creates both, each exists once and works`, async () => {
      const first = migrate(['up']);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout.match(/^applied/gm)).to.have.length(5);
      edit('widget_count.sql', 'COUNT(*) AS n', 'COUNT(*) AS total');
      edit('widget_names.sql', 'ORDER BY id;', 'ORDER BY id DESC;');

      const killed = migrate(['up'], { REMINDERLY_FAILPOINT: point });
      expect(killed.code, 'killed by SIGKILL').to.equal(-1);
      // MySQL runs the file as written (DROP, then CREATE); MariaDB sends one CREATE OR REPLACE.
      const replaced = server.routineReplace === 'create-or-replace';
      const done = point === 'after-statement-1' || !replaced ? 1 : 0;
      const [left] = await rows<LedgerRow>("SELECT status, statements_done, thread_id FROM migration_ledger WHERE name = 'procedures/widget_count'");
      expect([left.status, left.statements_done]).to.deep.equal(['running', done]);
      // Killed right after MySQL's DROP the routine is absent until the next run.
      const absent = point === 'after-statement-1' && !replaced;
      expect(await routines()).to.deep.equal([...(absent ? [] : [{ name: 'widget_count', n: 1 }]), { name: 'widget_names', n: 1 }]);
      await waitFor(async () => (await rows('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [left.thread_id])).length === 0,
        30_000, 'the killed run\'s connection to close');

      const status = migrate(['status']);
      expect(status.stdout).to.match(new RegExp(`^interrupted +procedures/widget_count\\.sql at statement ${done + 1}$`, 'm'));
      expect(status.stdout).to.match(/^pending +procedures\/widget_names\.sql$/m);
      const next = migrate(['up']);
      expect(next.code, next.stderr).to.equal(0);
      expect(next.stdout.match(/^applied +\S+/gm)).to.deep.equal(['applied      procedures/widget_count.sql', 'applied      procedures/widget_names.sql']);
      expect(await routines()).to.deep.equal([{ name: 'widget_count', n: 1 }, { name: 'widget_names', n: 1 }]);
      expect(await call('CALL widget_count()')).to.deep.equal([{ total: 3 }]);
      expect(await call('CALL widget_names()')).to.deep.equal([{ name: 'third' }, { name: 'second' }, { name: 'first; with a delimiter' }]);
      expect(await rows('SELECT COUNT(*) AS n FROM widgets')).to.deep.equal([{ n: 3 }]);
      expect(migrate(['up']).stdout).to.contain('nothing to apply');
    });
  }
});
