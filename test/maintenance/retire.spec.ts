import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { tableChecksum } from '../../tools/maintenance/checksum';
import { restoreOffloaded } from '../../tools/maintenance/restore';
import { retireCampaignSet, RetireStepError } from '../../tools/maintenance/retire';
import { tableKinds } from '../../tools/campaigns/sets';
import { UserError } from '../../tools/errors';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { Company, createCampaign, seedCompany, seedMessages, tableName } from './helpers';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('campaign retire', () => {
  const db = useThrowawayDatabase({ label: 'retire', migrated: true });
  let conn: Connection;
  let company: Company;
  let out: string;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 20);
  });
  after(async () => { await conn?.end(); });
  beforeEach(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-retire-')); });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  /** Every table of the set with its row checksum; missing tables are left out. */
  async function setChecksums(campaignId: number): Promise<Record<string, { rows: number; checksum: string }>> {
    const result: Record<string, { rows: number; checksum: string }> = {};
    for (const kind of await tableKinds(conn)) {
      const table = await tableName(conn, campaignId, kind);
      const [exists] = await queryRows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
      if (exists) result[table] = await tableChecksum(conn, db.name, table);
    }
    return result;
  }
  const setState = async (campaignId: number) =>
    (await queryRows<{ state: string }>(conn, 'SELECT state FROM campaign_sets WHERE campaign_id = ?', [campaignId]))[0].state;

  /** A set whose messages are all final, some of them already moved to history. */
  async function finishedSet(name: string): Promise<number> {
    const id = await createCampaign(conn, company.companyId, name);
    await seedMessages(conn, id, { count: 300, contacts: company.contactIds, status: 'delivered', daysAgo: 40 });
    await conn.query('CALL history_move(?, 30, 100, NULL, 1)', [id]);
    await seedMessages(conn, id, { count: 50, contacts: company.contactIds, status: 'responded', daysAgo: 1 });
    return id;
  }

  it('refuses a set with unfinished messages and changes nothing; --force retires it anyway', async () => {
    const id = await finishedSet('unfinished');
    await seedMessages(conn, id, { count: 7, contacts: company.contactIds, status: 'sent', daysAgo: 3 });
    await seedMessages(conn, id, { count: 2, contacts: company.contactIds, status: null, daysAgo: 0 });
    const before = await setChecksums(id);
    const refused = runCli(['campaign', 'retire', String(id), '--out', out, '--url', db.url]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain(`campaign ${id} has 9 unfinished message(s)`);
    expect(await setChecksums(id)).to.deep.equal(before);
    expect(fs.readdirSync(out)).to.deep.equal([]);

    const forced = await retireCampaignSet(conn, { url: db.url, campaignId: id, outDir: out, force: true });
    expect(forced).to.include({ outcome: 'retired', unfinished: 9 });
    expect(await setChecksums(id)).to.deep.equal({});
    expect(await setState(id)).to.equal('retired');
  });

  it('with every message final: one verified dump of all its tables, then the drop; restore brings the same rows back', async () => {
    const id = await finishedSet('finished');
    const before = await setChecksums(id);
    expect(Object.keys(before)).to.have.length((await tableKinds(conn)).length);
    const retired = runCli(['campaign', 'retire', String(id), '--out', out, '--json', '--url', db.url]);
    expect(retired.code, retired.stderr).to.equal(0);
    const result = JSON.parse(retired.stdout);
    expect(result).to.include({ campaignId: id, outcome: 'retired', unfinished: 0, reusedDump: false, rows: Object.values(before).reduce((n, t) => n + t.rows, 0) });
    expect(await setChecksums(id)).to.deep.equal({});
    expect(await setState(id)).to.equal('retired');
    const [campaign] = await queryRows<{ state: string }>(conn, 'SELECT state FROM campaigns WHERE id = ?', [id]);
    expect(campaign.state).to.equal('retired');

    const manifest = JSON.parse(fs.readFileSync(path.join(out, `campaign_${id}.manifest.json`), 'utf8'));
    expect(manifest).to.include({ kind: 'campaign-set', campaignId: id, database: db.name, file: `campaign_${id}.sql.gz` });
    expect(Object.fromEntries(manifest.tables.map((t: { table: string; rows: number; checksum: string }) => [t.table, { rows: t.rows, checksum: t.checksum }]))).to.deep.equal(before);
    expect(manifest.tool).to.match(/dump/i);

    // The dump brings the set's tables back exactly; a second restore changes nothing.
    const restored = await restoreOffloaded(db.url, path.join(out, `campaign_${id}.sql.gz`));
    expect(restored).to.include({ outcome: 'restored', table: `campaign_${id} set` });
    expect(await setChecksums(id)).to.deep.equal(before);
    expect((await restoreOffloaded(db.url, path.join(out, `campaign_${id}.sql.gz`))).outcome).to.equal('already-present');
    expect(await retireCampaignSet(conn, { url: db.url, campaignId: id, outDir: out })).to.include({ outcome: 'already-retired' });
  });

  it('drops nothing when the dump tool is missing or the folder is not writable', async () => {
    const id = await finishedSet('preflight');
    const before = await setChecksums(id);
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-path-'));
    fs.symlinkSync(process.execPath, path.join(bare, 'node'));
    const noTool = runCli(['campaign', 'retire', String(id), '--out', out, '--url', db.url], { PATH: bare });
    fs.rmSync(bare, { recursive: true, force: true });
    expect(noTool.code).to.equal(2);
    expect(noTool.stderr).to.match(new RegExp(`campaign ${id}: preflight failed: (mariadb-dump|mysqldump) not found on PATH.*; nothing was dropped`));

    const notAFolder = path.join(out, 'file');
    fs.writeFileSync(notAFolder, 'x');
    let error: unknown;
    await retireCampaignSet(conn, { url: db.url, campaignId: id, outDir: path.join(notAFolder, 'sub') }).catch((e) => { error = e; });
    expect(error).to.be.instanceOf(RetireStepError);
    expect((error as RetireStepError).step).to.equal('preflight');
    // The record says what ran: the failed preflight, and nothing after it.
    expect((error as RetireStepError).steps.map((r) => `${r.step} ${r.outcome}`)).to.deep.equal([
      'preflight failed', 'unfinished not-attempted', 'freeze not-attempted', 'checksum not-attempted',
      'dump not-attempted', 'manifest not-attempted', 'verify not-attempted', 'drop not-attempted',
    ]);
    expect(await setChecksums(id)).to.deep.equal(before);
    expect(await setState(id)).to.equal('active');
    expect(fs.readdirSync(out)).to.deep.equal(['file']);
  });

  it('a run killed before the drop is finished by the rerun from its verified dump, also when the drop was cut short', async () => {
    const id = await finishedSet('killed');
    const before = await setChecksums(id);
    const run = runCliAsync(['campaign', 'retire', String(id), '--out', out, '--url', db.url], { REMINDERLY_PAUSE_AT: 'drop' });
    let stderr = '';
    run.child.stderr!.on('data', (d) => { stderr += d; });
    await waitFor(async () => stderr.includes('paused at drop'), 60_000, 'the retire to reach the drop');
    run.child.kill('SIGKILL');
    await run.done;
    expect(await setChecksums(id)).to.deep.equal(before);
    // As if campaign_set_drop had been cut short after its first table.
    const [first] = Object.keys(before).filter((t) => t.endsWith('_ready_queue'));
    await conn.query(`DROP TABLE \`${first}\``);
    const result = await retireCampaignSet(conn, { url: db.url, campaignId: id, outDir: out });
    expect(result).to.include({ outcome: 'retired', reusedDump: true });
    // The earlier run's verified dump was reused: nothing was counted, dumped or written again.
    expect(result.steps.map((r) => `${r.step} ${r.outcome}`)).to.deep.equal([
      'preflight done', 'unfinished skipped', 'freeze done', 'checksum done', 'dump skipped', 'manifest skipped', 'verify done', 'drop done',
    ]);
    expect(await setChecksums(id)).to.deep.equal({});
    expect(await setState(id)).to.equal('retired');
    await restoreOffloaded(db.url, path.join(out, `campaign_${id}.sql.gz`));
    expect(await setChecksums(id)).to.deep.equal(before);
  });

  it('refuses a partly dropped set without its dump, and an unknown campaign', async () => {
    const id = await finishedSet('partial');
    await conn.query(`DROP TABLE \`${await tableName(conn, id, 'ready_queue')}\``);
    let error: unknown;
    await retireCampaignSet(conn, { url: db.url, campaignId: id, outDir: out }).catch((e) => { error = e; });
    expect((error as Error).message).to.match(/preflight failed: the set lacks 1 of its \d+ tables .* is not in/);
    error = undefined;
    await retireCampaignSet(conn, { url: db.url, campaignId: 987654, outDir: out }).catch((e) => { error = e; });
    expect(error).to.be.instanceOf(UserError);
    expect((error as Error).message).to.equal('campaign 987654 does not exist');
  });
});
