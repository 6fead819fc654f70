import { expect } from 'chai';
import { Connection, queryRows } from '../../tools/sql/connection';
import { campaignTableName, createCampaignSet, latestTemplateVersion, listSets, parseCampaignId, tableKinds, upgradeSets } from '../../tools/campaigns/sets';
import { UserError } from '../../tools/errors';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

/** A company with a campaign, straight into the core tables; returns the campaign id. */
export async function insertCampaign(conn: Connection, name: string, companyName = `company ${name}`): Promise<number> {
  await conn.query('INSERT INTO companies (name) VALUES (?) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)', [companyName]);
  const [[company]] = await conn.query('SELECT LAST_INSERT_ID() AS id') as unknown as [[{ id: number }]];
  await conn.query(
    "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, ?, id, 'active' FROM run_types WHERE code = 'immediate'",
    [company.id, name]);
  const [[campaign]] = await conn.query('SELECT LAST_INSERT_ID() AS id') as unknown as [[{ id: number }]];
  return Number(campaign.id);
}

/** SHOW CREATE TABLE of every table of a set, with the campaign's own numbers taken out. */
async function setStructure(conn: Connection, campaignId: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const kind of await tableKinds(conn)) {
    const table = await campaignTableName(conn, campaignId, kind);
    const [[row]] = await conn.query(`SHOW CREATE TABLE \`${table}\``) as unknown as [[Record<string, string>]];
    // Only the campaign's own numbers differ between sets: its id in names, its ids in defaults and checks.
    out[kind] = row['Create Table']
      .replace(/ AUTO_INCREMENT=\d+/, '')
      .replace(/campaign_\d+_/g, 'campaign_N_')
      .replace(/([_`])c\d+_/g, '$1cN_')
      .replace(/(`(?:campaign|company)_id`[^,\n]*DEFAULT )'?\d+'?/g, '$1N')
      .replace(/(`(?:campaign|company)_id` = )\d+/g, '$1N');
  }
  return out;
}

describe('campaign table sets', () => {
  const db = useThrowawayDatabase({ label: 'sets', migrated: true });
  let conn: Connection;
  before(async () => { conn = await db.connect(); });
  after(async () => { await conn?.end(); });

  it('creates a set idempotently, at the newest template version', async () => {
    const id = await insertCampaign(conn, 'spring reminders');
    const first = await createCampaignSet(conn, id);
    expect(first).to.deep.equal({ campaignId: id, created: true, version: await latestTemplateVersion(conn) });
    const second = await createCampaignSet(conn, id);
    expect(second.created).to.equal(false);
    const kinds = await tableKinds(conn);
    expect(kinds).to.include.members(['messages', 'message_contact_status', 'status_updates', 'interactions', 'messages_history']);
    for (const kind of kinds) {
      const table = await campaignTableName(conn, id, kind);
      expect(await queryRows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table])).to.have.length(1);
    }
  });

  it('a set created at v1 and upgraded is structurally identical to a set created fresh', async () => {
    const latest = await latestTemplateVersion(conn);
    expect(latest, 'the templates need at least two versions for this test to mean something').to.be.greaterThan(1);
    const old = await insertCampaign(conn, 'old campaign');
    // Create at v1: the upgrade routine with version 1 creates the set's v1 tables only.
    await conn.query("INSERT INTO campaign_sets (campaign_id, template_version, state) VALUES (?, 0, 'creating')", [old]);
    await conn.query('CALL campaign_set_upgrade(?, 1)', [old]);
    const [v1] = await queryRows<{ template_version: number }>(conn, 'SELECT template_version FROM campaign_sets WHERE campaign_id = ?', [old]);
    expect(Number(v1.template_version)).to.equal(1);
    const results = await upgradeSets(conn, { progress: 'none' });
    expect(results.filter((r) => r.campaignId === old)).to.deep.equal([{ campaignId: old, from: 1, to: latest, outcome: 'upgraded' }]);
    const fresh = await insertCampaign(conn, 'fresh campaign');
    await createCampaignSet(conn, fresh);
    expect(await setStructure(conn, old)).to.deep.equal(await setStructure(conn, fresh));
  });

  it('lists sets with version, state and row counts', async () => {
    const sets = await listSets(conn, { exact: true });
    expect(sets.length).to.be.greaterThan(0);
    for (const s of sets) {
      expect(s.templateVersion).to.equal(await latestTemplateVersion(conn));
      expect(s.rows).to.have.property('messages', 0);
    }
  });

  it('never builds an identifier from a campaign name', async () => {
    const id = await insertCampaign(conn, "x`; DROP TABLE companies; -- ' \" )");
    const result = await createCampaignSet(conn, id);
    expect(result.created).to.equal(true);
    expect(await campaignTableName(conn, id, 'messages')).to.equal(`campaign_${id}_messages`);
    expect(await queryRows(conn, 'SELECT COUNT(*) AS n FROM companies')).to.have.length(1);
  });

  it('rejects bad input with a clear error and creates nothing', async () => {
    const tablesBefore = await queryRows(conn, 'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1');
    for (const bad of ['-1', '1.5', 'abc', '0', '', '1; DROP TABLE x']) {
      expect(() => parseCampaignId(bad), bad).to.throw(UserError, /campaign id must be a positive whole number/);
    }
    let error: unknown;
    try { await createCampaignSet(conn, 987654321); } catch (e) { error = e; }
    expect(error).to.be.instanceOf(UserError);
    expect((error as Error).message).to.match(/unknown campaign 987654321/);
    try { await campaignTableName(conn, 1, 'nonsense'); error = undefined; } catch (e) { error = e; }
    expect((error as Error).message).to.match(/unknown table kind/);
    let versionError: unknown;
    try { await upgradeSets(conn, { toVersion: 999, progress: 'none' }); } catch (e) { versionError = e; }
    expect((versionError as Error).message).to.match(/template version 999 does not exist/);
    expect(await queryRows(conn, 'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1')).to.deep.equal(tablesBefore);
  });

  it('CLI: create twice says so, bad ids exit 1 with one line', async () => {
    const id = await insertCampaign(conn, 'cli campaign');
    const first = runCli(['campaign', 'create', String(id), '--url', db.url]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain(`campaign ${id}: set created`);
    const again = runCli(['campaign', 'create', String(id), '--url', db.url]);
    expect(again.stdout).to.contain('already exists');
    const bad = runCli(['campaign', 'create', '-5', '--url', db.url]);
    expect(bad.code).to.equal(1);
    const unknown = runCli(['campaign', 'create', '424242', '--url', db.url]);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr.trim()).to.equal('reminderly-db: unknown campaign 424242: no set was created');
    const list = runCli(['campaign', 'list', '--json', '--url', db.url]);
    expect(JSON.parse(list.stdout).map((s: { campaignId: number }) => s.campaignId)).to.include(id);
  });
});

describe('campaign upgrade --all, killed midway', () => {
  const db = useThrowawayDatabase({ label: 'upgradekill', migrated: true });

  it('the rerun finishes every one of 50 sets exactly once', async function () {
    this.timeout(600_000);
    const conn = await db.connect();
    try {
      const ids: number[] = [];
      for (let i = 0; i < 50; i++) {
        const id = await insertCampaign(conn, `bulk ${i}`, 'bulk company');
        await conn.query("INSERT INTO campaign_sets (campaign_id, template_version, state) VALUES (?, 0, 'creating')", [id]);
        await conn.query('CALL campaign_set_upgrade(?, 1)', [id]);
        ids.push(id);
      }
      const run = runCliAsync(['campaign', 'upgrade', '--all', '--url', db.url]);
      await waitFor(async () => {
        const [row] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM campaign_set_upgrades WHERE from_version >= 1');
        return Number(row.n) >= 5;
      }, 120_000, 'the upgrade to be under way');
      run.child.kill('SIGKILL');
      await run.done;
      const [midway] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(DISTINCT campaign_id) AS n FROM campaign_sets WHERE template_version = (SELECT MAX(version) FROM campaign_template_versions)');
      expect(Number(midway.n)).to.be.lessThan(50);
      await waitFor(async () => (await queryRows<{ h: number | null }>(conn, "SELECT IS_USED_LOCK(CONCAT('reminderly_db.schema.', DATABASE())) AS h"))[0].h === null, 10_000, 'the lock to be released');

      const rerun = runCli(['campaign', 'upgrade', '--all', '--url', db.url]);
      expect(rerun.code, rerun.stderr).to.equal(0);
      const latest = await latestTemplateVersion(conn);
      const sets = await queryRows<{ campaign_id: number; template_version: number }>(conn,
        `SELECT campaign_id, template_version FROM campaign_sets WHERE campaign_id IN (${ids.join(',')})`);
      expect(sets.every((s) => Number(s.template_version) === latest)).to.equal(true);
      // Exactly once: one upgrade record per set and version step, none repeated.
      const repeated = await queryRows(conn,
        `SELECT campaign_id, to_version, COUNT(*) AS n FROM campaign_set_upgrades
          WHERE campaign_id IN (${ids.join(',')}) GROUP BY campaign_id, to_version HAVING n > 1`);
      expect(repeated).to.deep.equal([]);
      const perSet = await queryRows<{ n: number }>(conn,
        `SELECT COUNT(*) AS n FROM campaign_set_upgrades WHERE campaign_id IN (${ids.join(',')}) AND to_version = ?`, [latest]);
      expect(Number(perSet[0].n)).to.equal(50);
    } finally {
      await conn.end();
    }
  });
});
