import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { ExitCode } from '../../tools/errors';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { queryRows, withConnection } from '../../tools/sql/connection';
import { migrateUp } from '../../tools/migrate/migrator';
import { MigrationHook } from '../../tools/migrate/hooks';
import { copyFixture, PROJECT_ROOT, runCli } from '../helpers/cli';

const BASIC = path.join(__dirname, 'fixtures', 'basic');

describe('migrate up: what runs after the files is reported, not thrown', () => {
  describe('hooks given to the migrator (fixture project)', () => {
    let db: ThrowawayDatabase;
    let fixture: { dir: string; cleanup: () => void };
    beforeEach(async () => {
      db = await createThrowawayDatabase('hooks');
      fixture = copyFixture(BASIC);
    });
    afterEach(async () => {
      fixture.cleanup();
      await db.drop();
    });

    const recorder = (name: string, calls: string[], fail = false): MigrationHook => ({
      name,
      async afterRoutine(_conn, _ctx, routine) { calls.push(`${name} after ${routine}`); },
      async run(conn) {
        calls.push(`${name} run`);
        if (fail) await conn.query('SELECT * FROM no_such_table_for_the_hook');
        return { lines: [`${name}: done`] };
      },
    });

    it('a failing hook keeps the file report, the next hook still runs, and the run is not ok', async () => {
      const calls: string[] = [];
      const report = await migrateUp({ url: db.url, root: fixture.dir, quiet: true, hooks: [recorder('first', calls, true), recorder('second', calls)] });
      expect(report.results.map((r) => `${r.name} ${r.outcome}`)).to.deep.equal([
        'schema/V0001__widgets applied', 'indexes/V0002__widgets_name applied', 'seeds/V0003__more_widgets applied', 'procedures/widget_count applied',
      ]);
      expect(report.hooks.map((h) => [h.name, h.outcome, h.lines.length])).to.deep.equal([['first', 'failed', 0], ['second', 'done', 1]]);
      expect(report.hooks[0].error).to.match(/no_such_table_for_the_hook/);
      expect(report.ok).to.equal(false);
      expect(calls).to.deep.equal(['first after widget_count', 'second after widget_count', 'first run', 'second run']);
      // The files are recorded as applied whatever the hook did: the next run has nothing to apply.
      const again = await migrateUp({ url: db.url, root: fixture.dir, quiet: true, hooks: [] });
      expect(again.results).to.deep.equal([]);
      expect(again.ok).to.equal(true);
    });

    it('when a file fails, no hook runs and each says so', async () => {
      fs.writeFileSync(path.join(fixture.dir, 'seeds', 'V0003__more_widgets.sql'), 'INSERT INTO widgetz (id) VALUES (9);\n');
      const calls: string[] = [];
      const report = await migrateUp({ url: db.url, root: fixture.dir, quiet: true, hooks: [recorder('first', calls)] });
      expect(report.results.map((r) => r.outcome)).to.deep.equal(['applied', 'applied', 'failed', 'not-executed']);
      expect(report.hooks.map((h) => [h.name, h.outcome])).to.deep.equal([['first', 'not-executed']]);
      expect(calls).to.deep.equal([]);
      expect(report.ok).to.equal(false);
    });

    it('up --to skips the campaign-sets hook and says why, without failing', async () => {
      const report = await migrateUp({ url: db.url, root: fixture.dir, quiet: true, to: 2 });
      expect(report.results.map((r) => r.outcome)).to.deep.equal(['applied', 'applied']);
      expect(report.hooks.map((h) => [h.name, h.outcome])).to.deep.equal([['campaign-sets', 'skipped'], ['routine-grants', 'done']]);
      expect(report.hooks[0].reason).to.match(/up --to 2/);
      expect(report.ok).to.equal(true);
    });
  });

  describe('a campaign set that fails to upgrade (the project, CLI)', () => {
    let db: ThrowawayDatabase;
    let copy: string;
    before(async function () {
      this.timeout(300_000);
      db = await createThrowawayDatabase('hookset');
      copy = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-hooks-'));
      for (const dir of ['schema', 'indexes', 'seeds', 'procedures']) fs.cpSync(path.join(PROJECT_ROOT, dir), path.join(copy, dir), { recursive: true });
      const first = runCli(['migrate', 'up', '--dir', copy, '--url', db.url]);
      expect(first.code, first.stderr).to.equal(0);
      await withConnection(db.url, async (c) => {
        await c.query("INSERT INTO companies (id, name) VALUES (1, 'example')");
        await c.query(`INSERT INTO campaigns (id, company_id, name, run_type_id, state)
                       SELECT n, 1, CONCAT('campaign ', n), r.id, 'active' FROM run_types r JOIN (SELECT 1 AS n UNION ALL SELECT 2) k WHERE r.code = 'immediate'`);
        await c.query('CALL campaign_set_create(1, @created)');
        await c.query('CALL campaign_set_create(2, @created)');
      });
    });
    after(async () => {
      fs.rmSync(copy, { recursive: true, force: true });
      await db.drop();
    });

    it('the new template file is applied and recorded, the failed set is named, exit 2; the next up finishes it', async () => {
      const latest = Number((await withConnection(db.url, (c) => queryRows<{ v: number }>(c, 'SELECT MAX(version) AS v FROM campaign_template_versions')))[0].v);
      const next = latest + 1;
      fs.writeFileSync(path.join(copy, 'schema', 'V0900__template_note.sql'), [
        `INSERT INTO campaign_template_versions (version, description) VALUES (${next}, 'messages: note');`,
        `INSERT INTO campaign_template_steps (version, step, table_kind, ddl, probe) VALUES (${next}, 1, 'messages',`,
        "  'ALTER TABLE {table} ADD COLUMN note VARCHAR(16) NULL',",
        "  'SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ''{table}'' AND COLUMN_NAME = ''note''');",
        '',
      ].join('\n'));
      // A DBA moved campaign 1's messages table away by hand: its upgrade cannot succeed.
      await withConnection(db.url, (c) => c.query('RENAME TABLE campaign_1_messages TO campaign_1_messages_moved'));
      const run = runCli(['migrate', 'up', '--dir', copy, '--url', db.url]);
      expect(run.code, run.stderr).to.equal(ExitCode.Failure);
      expect(run.stdout).to.match(/^applied +schema\/V0900__template_note\.sql/m);
      expect(run.stdout).to.contain('campaign sets upgraded: 1');
      expect(run.stdout).to.match(/^failed +campaign-sets \(after the files\)\n  1 campaign set\(s\) failed to upgrade, first: campaign 1: /m);
      // Progress goes to stderr too; the error is one line, without a stack.
      const errors = run.stderr.trim().split('\n').filter((l) => l.startsWith('reminderly-db:'));
      expect(errors, run.stderr).to.have.length(1);
      expect(errors[0]).to.match(/^reminderly-db: the files were applied, but campaign-sets failed: 1 campaign set\(s\) failed to upgrade, first: campaign 1: /);
      expect(run.stderr).not.to.match(/\n\s+at /);
      const ledger = await withConnection(db.url, (c) => queryRows<{ status: string }>(c, "SELECT status FROM migration_ledger WHERE name = 'schema/V0900__template_note'"));
      expect(ledger).to.deep.equal([{ status: 'applied' }]);
      const versions = await withConnection(db.url, (c) => queryRows<{ campaign_id: number; template_version: number }>(c,
        'SELECT campaign_id, template_version FROM campaign_sets ORDER BY campaign_id'));
      expect(versions.map((v) => [Number(v.campaign_id), Number(v.template_version)])).to.deep.equal([[1, latest], [2, next]]);

      await withConnection(db.url, (c) => c.query('RENAME TABLE campaign_1_messages_moved TO campaign_1_messages'));
      const healed = runCli(['migrate', 'up', '--dir', copy, '--url', db.url]);
      expect(healed.code, healed.stderr).to.equal(0);
      expect(healed.stdout).to.contain('nothing to apply');
      expect(healed.stdout).to.contain('campaign sets upgraded: 1');
      const columns = await withConnection(db.url, (c) => queryRows<{ n: number }>(c,
        "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = 'note' AND TABLE_NAME IN ('campaign_1_messages', 'campaign_2_messages')"));
      expect(Number(columns[0].n)).to.equal(2);
    });
  });
});
