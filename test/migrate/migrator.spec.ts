import { expect } from 'chai';
import { ExitCode } from '../../tools/errors';
import fs from 'fs';
import path from 'path';
import { createThrowawayDatabase, ThrowawayDatabase, throwawayName, testServerUrl } from '../../tools/harness/database';
import { queryRows, withConnection, withDatabase } from '../../tools/sql/connection';
import { UserError } from '../../tools/errors';
import { migrateDown, migrateUp, migrationStatus, planUp, repairMigration } from '../../tools/migrate/migrator';
import { copyFixture, runCli, runCliAsync, waitFor } from '../helpers/cli';

const BASIC = path.join(__dirname, 'fixtures', 'basic');

describe('migrate (fixture project)', () => {
  let db: ThrowawayDatabase;
  let fixture: { dir: string; cleanup: () => void };

  beforeEach(async () => {
    db = await createThrowawayDatabase('migrate');
    fixture = copyFixture(BASIC);
  });
  afterEach(async () => {
    fixture.cleanup();
    await db.drop();
  });

  const rows = <T = Record<string, unknown>>(sql: string) => withConnection(db.url, (c) => queryRows<T>(c, sql));

  it('applies everything once, in version order, then routines; a second up does nothing', async () => {
    const first = await migrateUp({ url: db.url, root: fixture.dir });
    expect(first.ok).to.equal(true);
    expect(first.results.map((r) => [r.name, r.outcome])).to.deep.equal([
      ['schema/V0001__widgets', 'applied'],
      ['indexes/V0002__widgets_name', 'applied'],
      ['seeds/V0003__more_widgets', 'applied'],
      ['procedures/widget_count', 'applied'],
    ]);
    const second = await migrateUp({ url: db.url, root: fixture.dir });
    expect(second.results).to.deep.equal([]);
    expect(await rows('SELECT id FROM widgets ORDER BY id')).to.deep.equal([{ id: 1 }, { id: 2 }, { id: 3 }]);
    // db-migrate's own bookkeeping sees the same history.
    const recorded = await rows<{ name: string }>('SELECT name FROM migrations ORDER BY id');
    expect(recorded.map((r) => r.name)).to.deep.equal(['schema/V0001__widgets', 'indexes/V0002__widgets_name', 'seeds/V0003__more_widgets']);
    const status = await migrationStatus({ url: db.url, root: fixture.dir });
    expect(status.files.every((f) => f.state === 'applied')).to.equal(true);
  });

  it('stops at --to and reverts with each file\'s down section', async () => {
    await migrateUp({ url: db.url, root: fixture.dir, to: 2 });
    let status = await migrationStatus({ url: db.url, root: fixture.dir });
    expect(status.files.map((f) => f.state)).to.deep.equal(['applied', 'applied', 'pending', 'pending']);
    await migrateUp({ url: db.url, root: fixture.dir });
    const down = await migrateDown({ url: db.url, root: fixture.dir, count: 2 });
    expect(down.results.map((r) => [r.name, r.outcome])).to.deep.equal([
      ['seeds/V0003__more_widgets', 'reverted'], ['indexes/V0002__widgets_name', 'reverted']]);
    expect(await rows('SELECT id FROM widgets')).to.deep.equal([{ id: 1 }]);
    expect(await rows("SHOW INDEX FROM widgets WHERE Key_name = 'ix_widgets_name'")).to.have.length(0);
    status = await migrationStatus({ url: db.url, root: fixture.dir });
    expect(status.files.map((f) => f.state)).to.deep.equal(['applied', 'pending', 'pending', 'applied']);
  });

  it('refuses to revert a file that has no down section, reverting nothing', async () => {
    await migrateUp({ url: db.url, root: fixture.dir });
    fs.rmSync(path.join(fixture.dir, 'indexes', 'V0002__widgets_name.down.sql'));
    let error: unknown;
    try { await migrateDown({ url: db.url, root: fixture.dir, count: 2 }); } catch (e) { error = e; }
    expect(error).to.be.instanceOf(UserError);
    expect((error as Error).message).to.contain('indexes/V0002__widgets_name.sql has no down file');
    expect(await rows('SELECT COUNT(*) AS n FROM widgets')).to.deep.equal([{ n: 3 }]);
  });

  it('validate names an edited file and a deleted one; up refuses to go on', async () => {
    await migrateUp({ url: db.url, root: fixture.dir });
    fs.appendFileSync(path.join(fixture.dir, 'schema', 'V0001__widgets.sql'), '\nSELECT 1;\n');
    fs.rmSync(path.join(fixture.dir, 'seeds', 'V0003__more_widgets.sql'));
    fs.rmSync(path.join(fixture.dir, 'seeds', 'V0003__more_widgets.down.sql'));
    const result = runCli(['migrate', 'validate', '--dir', fixture.dir, '--url', db.url]);
    expect(result.code, 'findings').to.equal(ExitCode.Findings);
    expect(result.stdout).to.contain('schema/V0001__widgets.sql: edited after it was applied');
    expect(result.stdout).to.contain('seeds/V0003__more_widgets.sql: applied, but not in this checkout');
    const up = runCli(['migrate', 'up', '--dir', fixture.dir, '--url', db.url]);
    expect(up.code).to.equal(1);
    expect(up.stderr).to.match(/refusing to migrate: schema\/V0001__widgets\.sql edited after it was applied/);
    expect(up.stderr).not.to.contain('    at ');
  });

  it('re-applies a repeatable file when it changes, and only then', async () => {
    await migrateUp({ url: db.url, root: fixture.dir });
    const file = path.join(fixture.dir, 'procedures', 'widget_count.sql');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('COUNT(*) AS n', 'COUNT(*) AS total'));
    const status = await migrationStatus({ url: db.url, root: fixture.dir });
    expect(status.files.find((f) => f.name === 'procedures/widget_count')!.state).to.equal('pending');
    const report = await migrateUp({ url: db.url, root: fixture.dir });
    expect(report.results.map((r) => r.name)).to.deep.equal(['procedures/widget_count']);
    const [[[result]]] = await withConnection(db.url, (c) => c.query("CALL widget_count()")) as unknown as [[[{ total: number }]]];
    expect(result).to.deep.equal({ total: 3 });
  });

  it('records a failing statement, refuses the next up, and resumes from that statement once fixed', async () => {
    const file = path.join(fixture.dir, 'seeds', 'V0003__more_widgets.sql');
    fs.writeFileSync(file, "INSERT INTO widgets (id, name) VALUES (2, 'second');\nINSERT INTO widgetz (id, name) VALUES (3, 'third');\nINSERT INTO widgets (id, name) VALUES (4, 'fourth');\n");
    const report = await migrateUp({ url: db.url, root: fixture.dir });
    expect(report.ok).to.equal(false);
    const failed = report.results.find((r) => r.outcome === 'failed')!;
    expect(failed.name).to.equal('seeds/V0003__more_widgets');
    expect(failed.error).to.match(/V0003__more_widgets\.sql:2:1: statement 2 \("INSERT INTO widgetz .*"\) failed: ER_NO_SUCH_TABLE \(1146\)/);
    expect(report.results.find((r) => r.name === 'procedures/widget_count')!.outcome).to.equal('not-executed');
    const status = await migrationStatus({ url: db.url, root: fixture.dir });
    const seed = status.files.find((f) => f.name === 'seeds/V0003__more_widgets')!;
    expect([seed.state, seed.resumeAt]).to.deep.equal(['failed', 1]);

    let refusal: unknown;
    try { await migrateUp({ url: db.url, root: fixture.dir }); } catch (e) { refusal = e; }
    expect((refusal as Error).message).to.match(/failed at statement 2.*--resume.*migrate repair seeds\/V0003__more_widgets/);

    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('widgetz', 'widgets'));
    const resumed = await migrateUp({ url: db.url, root: fixture.dir, resume: true });
    expect(resumed.ok).to.equal(true);
    expect(resumed.results[0]).to.include({ name: 'seeds/V0003__more_widgets', startedAt: 1, statements: 2 });
    expect(await rows('SELECT id FROM widgets ORDER BY id')).to.deep.equal([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
  });

  it('repair marks a failed file applied after the DBA finished it by hand', async () => {
    const file = path.join(fixture.dir, 'seeds', 'V0003__more_widgets.sql');
    fs.writeFileSync(file, "INSERT INTO widgets (id, name) VALUES (2, 'second');\nINSERT INTO widgetz (id, name) VALUES (3, 'third');\n");
    await migrateUp({ url: db.url, root: fixture.dir });
    await withConnection(db.url, (c) => c.query("INSERT INTO widgets (id, name) VALUES (3, 'third')"));
    const message = await repairMigration({ url: db.url, root: fixture.dir, name: 'seeds/V0003__more_widgets' });
    expect(message).to.contain('marked applied');
    const report = await migrateUp({ url: db.url, root: fixture.dir });
    expect(report.results.map((r) => r.name)).to.deep.equal(['procedures/widget_count']);
  });

  it('a run killed mid-file is recorded as interrupted at that statement; the next run refuses until resumed', async () => {
    const file = path.join(fixture.dir, 'seeds', 'V0003__more_widgets.sql');
    fs.writeFileSync(file, "INSERT INTO widgets (id, name) VALUES (2, 'second');\nDO SLEEP(30);\nINSERT INTO widgets (id, name) VALUES (3, 'third');\n");
    const run = runCliAsync(['migrate', 'up', '--dir', fixture.dir, '--url', db.url]);
    await waitFor(async () => {
      const r = await rows<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = 'DO SLEEP(30)'");
      return Number(r[0].n) > 0;
    }, 30_000, 'the migration to reach its sleeping statement');
    run.child.kill('SIGKILL');
    await run.done;
    await withConnection(db.serverUrl, (c) => c.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'DO SLEEP(30)'").then(async ([r]) => {
      for (const { ID } of r as { ID: number }[]) await c.query(`KILL ${Number(ID)}`);
    }), { database: null });

    await waitFor(async () => (await migrationStatus({ url: db.url, root: fixture.dir })).files
      .some((f) => f.name === 'seeds/V0003__more_widgets' && f.state === 'interrupted'), 10_000, 'the lock to be released');
    const seed = (await migrationStatus({ url: db.url, root: fixture.dir })).files.find((f) => f.name === 'seeds/V0003__more_widgets')!;
    expect(seed.resumeAt).to.equal(1);
    const refused = runCli(['migrate', 'up', '--dir', fixture.dir, '--url', db.url]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('interrupted at statement 2');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('DO SLEEP(30)', 'DO 0'));
    const resumed = runCli(['migrate', 'up', '--resume', '--dir', fixture.dir, '--url', db.url]);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(await rows('SELECT id FROM widgets ORDER BY id')).to.deep.equal([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it('two concurrent runs apply every file exactly once', async () => {
    const file = path.join(fixture.dir, 'schema', 'V0001__widgets.sql');
    // A slow first file keeps the first run inside its lock while the second starts.
    fs.appendFileSync(file, '\nDO SLEEP(1);\n');
    const runs = [0, 1].map(() => runCliAsync(['migrate', 'up', '--dir', fixture.dir, '--url', db.url]));
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) expect(r.code, r.stderr).to.equal(0);
    const applied = results.map((r) => (r.stdout.match(/^applied/gm) ?? []).length).sort();
    expect(applied).to.deep.equal([0, 4]);
    expect(results.map((r) => r.stdout).join('\n')).to.contain('nothing to apply');
    expect(await rows('SELECT name, COUNT(*) AS n FROM migrations GROUP BY name HAVING n > 1')).to.deep.equal([]);
    expect(await rows('SELECT COUNT(*) AS n FROM widgets')).to.deep.equal([{ n: 3 }]);
  });

  it('plan prints the SQL up would run and changes nothing', async () => {
    const planned = await planUp({ url: db.url, root: fixture.dir, to: 2 });
    expect(planned.map((p) => p.name)).to.deep.equal(['schema/V0001__widgets', 'indexes/V0002__widgets_name']);
    const cli = runCli(['migrate', 'plan', '--dir', fixture.dir, '--url', db.url]);
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.contain('-- schema/V0001__widgets.sql');
    expect(cli.stdout).to.match(/CREATE TABLE\s+widgets/);
    expect(cli.stdout).to.contain('DELIMITER $$');
    expect(await rows('SHOW TABLES')).to.deep.equal([]);
  });
});

describe('migrate (CLI on a new database)', () => {
  const name = throwawayName('cli');
  const url = withDatabase(testServerUrl(), name);
  after(() => withConnection(testServerUrl(), (c) => c.query(`DROP DATABASE IF EXISTS \`${name}\``), { database: null }));

  it('creates and migrates the database named in the URL, then reports nothing to do', () => {
    const plan = runCli(['migrate', 'plan', '--url', url]);
    expect(plan.code, plan.stderr).to.equal(0);
    const first = runCli(['migrate', 'up', '--url', url]);
    expect(first.code, first.stderr + first.stdout).to.equal(0);
    const second = runCli(['migrate', 'up', '--url', url]);
    expect(second.code).to.equal(0);
    expect(second.stdout).to.contain('nothing to apply');
    const status = runCli(['migrate', 'status', '--json', '--url', url]);
    const parsed = JSON.parse(status.stdout) as { files: { state: string }[] };
    expect(parsed.files.length).to.be.greaterThan(0);
    expect(parsed.files.every((f) => f.state === 'applied')).to.equal(true);
  });

  it('gives a one-line reason, exit 1, for a bad URL or environment', () => {
    for (const args of [['--url', 'postgres://x/y'], ['--env', 'nope'], ['--url', 'mysql://root@127.0.0.1:3306']]) {
      const r = runCli(['migrate', 'status', ...args]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
    }
  });
});
