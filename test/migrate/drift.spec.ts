// `migrate drift` on a real server: a migrated database with campaign sets and registered users
// reports nothing; then each kind of hand-made change a DBA makes at 3 a.m. is found with its
// exact line, through the CLI as a DBA runs it (exit 3 with findings, --json for machines).
import { expect } from 'chai';
import { Connection, connect, queryRows, withConnection, withDatabase } from '../../tools/sql/connection';
import { applyUsers } from '../../tools/users/apply';
import { FINDINGS_EXIT_CODE } from '../../tools/errors';
import { mapSetTables, compareTable } from '../../tools/migrate/catalogue-compare';
import { TableDef } from '../../tools/migrate/catalogue';
import { migrateDrift } from '../../tools/migrate/drift';
import { createCampaign, seedCompany } from '../pipeline/helpers';
import { runCli } from '../helpers/cli';
import { rotateLogTables } from '../../tools/maintenance/log-tables';
import { dropAccounts, uniqueAccounts } from './helpers';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('migrate drift', function () {
  this.timeout(300_000);
  const db = useThrowawayDatabase({ label: 'drift', migrated: true });
  const users = uniqueAccounts();
  let conn: Connection;
  let first: number;
  let second: number;

  before(async () => {
    conn = await connect(db.url);
    const company = await seedCompany(conn, 3);
    first = await createCampaign(conn, company.companyId, 'drift one');
    second = await createCampaign(conn, company.companyId, 'drift two');
    await applyUsers({ url: db.url, prefix: users.prefix, environment: users.environment });
  });
  after(async () => {
    await conn?.end().catch(() => conn.destroy());
    await dropAccounts(db.serverUrl, users.names);
  });

  const drift = () => runCli(['migrate', 'drift', '--url', db.url]);
  const lines = (stdout: string) => stdout.split('\n').filter(Boolean);

  it('reports nothing on a database that is what its history produced (exit 0), and leaves no reference behind', async () => {
    const references = async () => (await queryRows<{ name: string }>(conn,
      "SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'rdbt\\_%\\_ref' ORDER BY 1")).map((r) => r.name);
    const before = await references();
    // What maintenance does is not drift: a rotated log table has its live table's shape.
    await conn.query("INSERT INTO log_events (level, source, message) VALUES ('info', 'drift spec', 'rotate me')");
    const rotated = await rotateLogTables(conn);
    expect(rotated.filter((r) => r.rotatedTo)).to.have.length(1);
    const result = drift();
    expect(result.stdout, result.stderr).to.equal('');
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/no differences from the history up to version \d+ \(\d+ tables, 2 campaign sets;/);
    const report = await migrateDrift({ url: db.url });
    expect(report.findings).to.deep.equal([]);
    expect(report.setsCompared).to.equal(2);
    expect(await references()).to.deep.equal(before);
  });

  it('finds every hand-made change, each with its exact line, and exits 3', async () => {
    const m1 = `campaign_${first}_messages`;
    const m2 = `campaign_${second}_messages`;
    const su2 = `campaign_${second}_status_updates`;
    await conn.query(`ALTER TABLE ${m1} ADD COLUMN priority TINYINT NULL`);
    await conn.query(`ALTER TABLE ${m1} ALTER COLUMN packet SET DEFAULT 7`);
    await conn.query(`ALTER TABLE ${m2} MODIFY subject VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`);
    await conn.query(`CREATE INDEX ix_send_after ON ${m2} (send_after)`);
    await conn.query(`ALTER TABLE ${su2} DROP FOREIGN KEY fk_c${second}_su_status`);
    await conn.query('CREATE TABLE notes_by_hand (id INT NOT NULL PRIMARY KEY)');
    await conn.query('DROP PROCEDURE campaign_summary');
    await conn.query(`CREATE PROCEDURE campaign_summary(IN p_campaign_id BIGINT UNSIGNED) READS SQL DATA SQL SECURITY DEFINER SELECT p_campaign_id`);
    await conn.query(`REVOKE EXECUTE ON PROCEDURE \`${db.name}\`.claim_batch FROM '${users.prefix}_app'@'%'`);

    const result = drift();
    expect(result.code, result.stderr).to.equal(FINDINGS_EXIT_CODE);
    const found = lines(result.stdout);
    const routine = found.filter((l) => l.startsWith('procedure campaign_summary: '));
    expect(found.filter((l) => !routine.includes(l))).to.deep.equal([
      `${m1}: column packet default 7, expected 0`,
      `${m1}: column priority extra`,
      `${m2}: column subject collation utf8mb4_bin, expected utf8mb4_unicode_ci`,
      `${m2}: index ix_send_after extra`,
      `${su2}: foreign key fk_c${second}_su_status missing`,
      'notes_by_hand: table extra',
      `user '${users.prefix}_app'@'%': EXECUTE on PROCEDURE claim_batch missing`,
      // Re-creating a routine by hand drops its grants too.
    ]);
    expect(routine).to.include('procedure campaign_summary: definition differs from procedures/campaign_summary.sql');
    expect(result.stderr).to.match(new RegExp(`${found.length} difference\\(s\\) from the history`));

    const json = runCli(['migrate', 'drift', '--url', db.url, '--json']);
    expect(json.code).to.equal(FINDINGS_EXIT_CODE);
    const report = JSON.parse(json.stdout) as { findings: { object: string; difference: string; line: string }[] };
    expect(report.findings.map((f) => f.line)).to.deep.equal(found);
    expect(report.findings.find((f) => f.object === m2 && f.difference === 'index ix_send_after extra')).to.exist;
  });

  it('names a set at a template version the history does not have, and a missing table', async () => {
    await conn.query(`DROP TABLE campaign_${first}_interactions_history`);
    await conn.query('UPDATE campaign_sets SET template_version = 99 WHERE campaign_id = ?', [second]);
    const found = lines(drift().stdout);
    expect(found).to.include(`campaign_${first}_interactions_history: table missing`);
    expect(found).to.include(`campaign ${second}: table set is at template version 99, which the history up to version ${(await migrateDrift({ url: db.url })).recordedVersion} does not define`);
    // The set the reference cannot stand for is one line, not one per table.
    expect(found.filter((l) => l.startsWith(`campaign_${second}_`))).to.deep.equal([]);
  });

  it('refuses a database without a recorded history with one line (exit 1)', async () => {
    const other = await withConnection(db.serverUrl, async (c) => {
      const name = `${db.name}_x`.slice(0, 64);
      await c.query(`CREATE DATABASE \`${name}\``);
      return name;
    }, { database: null });
    try {
      const result = runCli(['migrate', 'drift', '--url', withDatabase(db.url, other)]);
      expect(result.code).to.equal(1);
      expect(result.stderr.trim().split('\n')).to.have.length(1);
      expect(result.stderr).to.match(/has no recorded migration history: adopt it with `migrate baseline --version N`/);
    } finally {
      await withConnection(db.serverUrl, (c) => c.query(`DROP DATABASE \`${other}\``), { database: null });
    }
  });
});

describe('catalogue comparison (pure)', () => {
  const table = (name: string, extra: Partial<TableDef> = {}): TableDef => ({
    name, engine: 'InnoDB', collation: 'utf8mb4_unicode_ci', comment: '', indexes: {}, foreignKeys: {}, checks: {},
    columns: [
      { name: 'id', position: 1, type: 'bigint unsigned', nullable: false, default: null, extra: 'auto_increment', collation: null, generation: null, comment: '' },
      { name: 'campaign_id', position: 2, type: 'bigint unsigned', nullable: false, default: '9100000004', extra: '', collation: null, generation: null, comment: '' },
    ],
    ...extra,
  });

  it('maps a reference set to a live one: table, index and constraint names, and ids in defaults and checks', () => {
    const ref = table('campaign_9100000004_messages', {
      indexes: { ix_c9100000004_messages_x: { name: 'ix_c9100000004_messages_x', unique: false, type: 'BTREE', parts: ['campaign_id'], hidden: false } },
      checks: { ck_c9100000004_messages_campaign: '`campaign_id` = 9100000004' },
    });
    const [mapped] = mapSetTables([ref], { campaignId: 9100000004, companyId: 8700000001 }, { campaignId: 42, companyId: 7 });
    expect(mapped.name).to.equal('campaign_42_messages');
    expect(Object.keys(mapped.indexes)).to.deep.equal(['ix_c42_messages_x']);
    expect(mapped.checks).to.deep.equal({ ck_c42_messages_campaign: '`campaign_id` = 42' });
    expect(mapped.columns[1].default).to.equal('42');
  });

  it('says column order once, over the columns both sides have', () => {
    const want = table('t');
    const got = table('t', { columns: [...want.columns].reverse().map((c, i) => ({ ...c, position: i + 1 })) });
    expect(compareTable(want, got).map((f) => f.difference)).to.deep.equal(['column order (campaign_id, id), expected (id, campaign_id)']);
  });
});
