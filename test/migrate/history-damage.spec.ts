// A damaged history, one kind of damage per test, through the CLI as a DBA meets it: the ledger
// dropped, its newest row deleted, a row's status, checksum or statements_done edited, a row of
// db-migrate's migrations table deleted. Each is reported by `status` and `validate` with a line
// naming what is wrong; `up` refuses with one line and applies nothing (no seed row twice, no
// bookkeeping row changed); `migrate repair --rebuild-ledger --yes` brings the two records back
// into agreement, after which `validate` exits 0 and `up` applies nothing versioned again.
import { expect } from 'chai';
import path from 'path';
import { ExitCode } from '../../tools/errors';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { queryRows, withConnection } from '../../tools/sql/connection';
import { checksumOf, readSql } from '../../tools/migrate/sources';
import { copyFixture, runCli } from '../helpers/cli';

const HISTORY = path.join(__dirname, 'fixtures', 'history');
const FIRST = 'seeds/V0002__first_widgets';
const THIRD = 'seeds/V0003__third_widget';
const REBUILD = 'run `migrate repair --rebuild-ledger` to rebuild it from the migrations table';
const short = (file: string) => checksumOf(readSql(path.join(HISTORY, `${file}.sql`))).slice(0, 12);

interface Damage {
  what: string;
  /** Run as the administrator on the migrated database. */
  damage: string[];
  /** status: the file's line, when the damage changes it. */
  fileState?: RegExp;
  /** validate's lines (the file problems, then the history ones); status prints the history ones too. */
  findings: string[];
  /** up's one line on stderr, after "reminderly-db: refusing to migrate: ". */
  refusal: string;
  /** What repair --rebuild-ledger prints, one line per change. */
  changes: string[];
  /** What the first up after the rebuild applies. */
  reapplied: string[];
}

const DAMAGES: Damage[] = [
  {
    what: 'the ledger table dropped',
    damage: ['DROP TABLE migration_ledger'],
    fileState: /^pending +seeds\/V0003__third_widget\.sql$/m,
    findings: [`history: migration_ledger is missing, but migrations lists 3 applied file(s): ${REBUILD}`],
    refusal: `migration_ledger is missing, but migrations lists 3 applied file(s): ${REBUILD}`,
    changes: ['add schema/V0001__widgets.sql as applied', `add ${FIRST}.sql as applied`, `add ${THIRD}.sql as applied`],
    // The routine's row went with the table: it is applied again (DROP IF EXISTS + CREATE), nothing versioned.
    reapplied: ['procedures/widget_total'],
  },
  {
    what: 'the newest ledger row deleted',
    damage: [`DELETE FROM migration_ledger WHERE name = '${THIRD}'`],
    fileState: /^pending +seeds\/V0003__third_widget\.sql$/m,
    findings: [`history: ${THIRD}.sql: listed in migrations but has no migration_ledger row (rows deleted?): ${REBUILD}`],
    refusal: `${THIRD}.sql: listed in migrations but has no migration_ledger row (rows deleted?): ${REBUILD}`,
    changes: [`add ${THIRD}.sql as applied`],
    reapplied: [],
  },
  {
    what: 'a ledger row\'s status edited (applied to failed)',
    damage: [`UPDATE migration_ledger SET status = 'failed' WHERE name = '${FIRST}'`],
    fileState: /^failed +seeds\/V0002__first_widgets\.sql at statement 3$/m,
    findings: [`${FIRST}.sql: failed at statement 3:`, `history: ${FIRST}.sql: listed in migrations as applied, but migration_ledger says failed (row edited?)`],
    refusal: `${FIRST}.sql: listed in migrations as applied, but migration_ledger says failed (row edited?)`,
    changes: [`replace ${FIRST}.sql as applied`],
    reapplied: [],
  },
  {
    what: 'a ledger row\'s checksum edited to something that is no checksum',
    damage: [`UPDATE migration_ledger SET checksum = 'edited by hand' WHERE name = '${FIRST}'`],
    fileState: /^changed +seeds\/V0002__first_widgets\.sql$/m,
    findings: [
      `${FIRST}.sql: edited after it was applied (checksum edited by ha applied, ${short(FIRST)} now)`,
      `history: ${FIRST}.sql: migration_ledger holds no valid checksum ("edited by hand"; row edited?)`,
    ],
    refusal: `${FIRST}.sql: migration_ledger holds no valid checksum ("edited by hand"; row edited?)`,
    changes: [`replace ${FIRST}.sql as applied`],
    reapplied: [],
  },
  {
    what: 'a ledger row\'s checksum edited to another valid one (indistinguishable from an edited file)',
    damage: [`UPDATE migration_ledger SET checksum = '${'ab'.repeat(32)}' WHERE name = '${FIRST}'`],
    fileState: /^changed +seeds\/V0002__first_widgets\.sql$/m,
    findings: [`${FIRST}.sql: edited after it was applied (checksum abababababab applied, ${short(FIRST)} now)`],
    refusal: `${FIRST}.sql edited after it was applied (checksum abababababab applied, ${short(FIRST)} now) — run \`migrate validate\` for the full list`,
    changes: [`replace ${FIRST}.sql as applied`],
    reapplied: [],
  },
  {
    what: 'a ledger row\'s statements_done edited',
    damage: [`UPDATE migration_ledger SET statements_done = 1 WHERE name = '${FIRST}'`],
    findings: [`history: ${FIRST}.sql: migration_ledger says applied with 1 of 2 statements (row edited?)`],
    refusal: `${FIRST}.sql: migration_ledger says applied with 1 of 2 statements (row edited?)`,
    changes: [`replace ${FIRST}.sql as applied`],
    reapplied: [],
  },
  {
    what: 'a row of db-migrate\'s migrations table deleted',
    damage: [`DELETE FROM migrations WHERE name = '${THIRD}'`],
    findings: [`history: ${THIRD}.sql: applied in migration_ledger but not listed in migrations (row edited or deleted?)`],
    refusal: `${THIRD}.sql: applied in migration_ledger but not listed in migrations (row edited or deleted?)`,
    // The ledger row is a complete application of the checkout's file: the file was applied.
    changes: [`restore ${THIRD}.sql in migrations (applied in migration_ledger with this checkout's checksum)`],
    reapplied: [],
  },
];

describe('migrate with a damaged history (fixture project)', function () {
  this.timeout(120_000);
  let db: ThrowawayDatabase;
  let fixture: { dir: string; cleanup: () => void };

  beforeEach(async () => {
    db = await createThrowawayDatabase('history');
    fixture = copyFixture(HISTORY);
    const first = migrate(['up']);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout.match(/^applied/gm)).to.have.length(4);
  });
  afterEach(async () => {
    fixture.cleanup();
    await db.drop();
  });

  const migrate = (args: string[]) => runCli(['migrate', ...args, '--dir', fixture.dir, '--url', db.url]);
  const rows = <T = Record<string, unknown>>(sql: string) => withConnection(db.url, (c) => queryRows<T>(c, sql));
  const lines = (text: string) => text.split('\n').filter(Boolean);
  /** Everything `up` could change: the seeded rows, both records of the history, the routine. */
  const snapshot = async () => ({
    widgets: await rows('SELECT name, COUNT(*) AS n FROM widgets GROUP BY name ORDER BY name'),
    migrations: await rows('SELECT id, name, run_on FROM migrations ORDER BY id'),
    ledger: (await rows("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'migration_ledger'"))[0].n
      ? await rows('SELECT name, status, checksum, statements_done, statements_total, finished_at FROM migration_ledger ORDER BY name')
      : null,
    routines: await rows('SELECT ROUTINE_NAME AS name, CREATED AS created FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()'),
  });
  const seeded = [{ name: 'first', n: 1 }, { name: 'second', n: 1 }, { name: 'third', n: 1 }];

  for (const d of DAMAGES) {
    it(`${d.what}: status and validate report it, up refuses with one line and applies nothing, repair --rebuild-ledger --yes rebuilds it`, async () => {
      await withConnection(db.url, async (c) => {
        for (const sql of d.damage) await c.query(sql);
      });
      const damaged = await snapshot();
      expect(damaged.widgets).to.deep.equal(seeded);

      const status = migrate(['status']);
      expect(status.code, status.stderr).to.equal(0);
      if (d.fileState) expect(status.stdout).to.match(d.fileState);
      expect(lines(status.stdout).filter((l) => l.startsWith('history: '))).to.deep.equal(d.findings.filter((l) => l.startsWith('history: ')));
      const validate = migrate(['validate']);
      expect(validate.code, validate.stdout).to.equal(ExitCode.Findings);
      expect(lines(validate.stdout)).to.deep.equal(d.findings);
      expect(lines(validate.stderr)).to.deep.equal([
        `reminderly-db: ${d.findings.length} problem(s): the checkout, the history or the grants disagree with ${db.name}`]);

      for (const args of [['up'], ['up', '--resume']]) {
        const refused = migrate(args);
        expect(refused.code, refused.stderr).to.equal(ExitCode.Usage);
        expect(lines(refused.stderr)).to.deep.equal([`reminderly-db: refusing to migrate: ${d.refusal}`]);
        expect(refused.stdout).to.equal('');
      }
      expect(await snapshot(), 'up changed nothing').to.deep.equal(damaged);

      const dry = migrate(['repair', '--rebuild-ledger']);
      expect(dry.code).to.equal(ExitCode.Usage);
      expect(lines(dry.stdout)).to.deep.equal(d.changes);
      expect(lines(dry.stderr)).to.deep.equal([
        `reminderly-db: nothing written: run again with --rebuild-ledger --yes to make these ${d.changes.length} change(s) to ${db.name}`]);
      expect(await snapshot(), 'the dry run wrote nothing').to.deep.equal(damaged);
      expect(lines(migrate(['validate']).stdout), 'the dry run left the damage as it was').to.deep.equal(d.findings);

      const rebuilt = migrate(['repair', '--rebuild-ledger', '--yes']);
      expect(rebuilt.code, rebuilt.stderr).to.equal(0);
      expect(lines(rebuilt.stdout)).to.deep.equal([...d.changes, `${db.name}: ledger rebuilt (${d.changes.length} change(s))`]);
      const clean = migrate(['validate']);
      expect(clean.code, clean.stdout).to.equal(0);
      expect(lines(clean.stdout)).to.deep.equal([`${db.name}: every applied file matches the checkout`]);

      const up = migrate(['up']);
      expect(up.code, up.stderr).to.equal(0);
      expect((up.stdout.match(/^applied +\S+/gm) ?? []).map((l) => l.replace(/^applied +/, '').replace(/\.sql$/, ''))).to.deep.equal(d.reapplied);
      if (!d.reapplied.length) expect(up.stdout).to.contain(`${db.name}: nothing to apply, the database is up to date`);
      expect(await rows('SELECT name, COUNT(*) AS n FROM widgets GROUP BY name ORDER BY name'), 'no seed applied twice').to.deep.equal(seeded);
      expect(await rows('SELECT name, COUNT(*) AS n FROM migrations GROUP BY name ORDER BY MIN(id)')).to.deep.equal(
        ['schema/V0001__widgets', FIRST, THIRD].map((name) => ({ name, n: 1 })));
      expect(await rows("SELECT name, status, statements_done, statements_total FROM migration_ledger WHERE kind = 'versioned' ORDER BY name")).to.deep.equal([
        { name: 'schema/V0001__widgets', status: 'applied', statements_done: 1, statements_total: 1 },
        { name: FIRST, status: 'applied', statements_done: 2, statements_total: 2 },
        { name: THIRD, status: 'applied', statements_done: 1, statements_total: 1 },
      ]);
      expect(migrate(['up']).stdout).to.contain('nothing to apply');
      expect(migrate(['repair', '--rebuild-ledger']).stdout).to.contain('the ledger already agrees with the migrations table; nothing to rebuild');
    });
  }
});
