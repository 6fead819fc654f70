// The constraints that protect the data: each test makes the server itself refuse a bad row.
import { expect } from 'chai';
import { generateCoreData, insertCampaign } from '../../tools/campaigns/generator';
import { createCampaignSet, campaignTableName } from '../../tools/campaigns/sets';
import { Connection } from '../../tools/sql/connection';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('schema constraints', () => {
  const db = useThrowawayDatabase({ label: 'constraints', migrated: true });
  let conn: Connection;
  let companyA: number;
  let companyB: number;
  let contactOfA: number;
  let contactOfB: number;
  let messages: string;

  before(async () => {
    conn = await db.connect();
    const data = await generateCoreData(conn, { seed: 1, companies: 2, contactsPerCompany: 3 });
    [companyA, companyB] = data.companyIds;
    contactOfA = data.contactIds.get(companyA)![0];
    contactOfB = data.contactIds.get(companyB)![0];
    const campaign = await insertCampaign(conn, companyA, 'constraint checks');
    await createCampaignSet(conn, campaign);
    messages = await campaignTableName(conn, campaign, 'messages');
  });
  after(async () => { await conn?.end(); });

  // A CHECK violation is ER_CHECK_CONSTRAINT_VIOLATED (3819) on MySQL and ER_CONSTRAINT_FAILED
  // (4025) on MariaDB, which mysql2 names after MySQL's unrelated 4025: match on the number.
  const refuses = async (sql: string, params: unknown[], expected: RegExp) => {
    let error: { code?: string; errno?: number; sqlMessage?: string } | undefined;
    try { await conn.query(sql, params); } catch (e) { error = e as typeof error; }
    expect(error, `expected the server to refuse: ${sql}`).to.not.equal(undefined);
    const failure = error!.errno === 4025 || error!.errno === 3819 ? 'CHECK_CONSTRAINT' : String(error!.code);
    expect(failure, error!.sqlMessage).to.match(expected);
  };

  it('accepts a message for a contact of the campaign\'s company', async () => {
    await conn.query(`INSERT INTO \`${messages}\` (contact_id, method_id) VALUES (?, 1)`, [contactOfA]);
  });

  it('refuses a message for a contact of another company', () =>
    refuses(`INSERT INTO \`${messages}\` (contact_id, method_id) VALUES (?, 1)`, [contactOfB], /ER_NO_REFERENCED_ROW/));

  it('refuses a message claiming another company or campaign', async () => {
    await refuses(`INSERT INTO \`${messages}\` (company_id, contact_id, method_id) VALUES (?, ?, 1)`, [companyB, contactOfB], /CHECK_CONSTRAINT|ER_NO_REFERENCED_ROW/);
    await refuses(`INSERT INTO \`${messages}\` (campaign_id, contact_id, method_id) VALUES (999999, ?, 1)`, [contactOfA], /CHECK_CONSTRAINT|ER_NO_REFERENCED_ROW/);
  });

  it('refuses a message or a channel with an unknown method', async () => {
    await refuses(`INSERT INTO \`${messages}\` (contact_id, method_id) VALUES (?, 99)`, [contactOfA], /ER_NO_REFERENCED_ROW/);
    await refuses('INSERT INTO contact_channels (contact_id, method_id, address) VALUES (?, 99, ?)', [contactOfA, 'x@example.test'], /ER_NO_REFERENCED_ROW/);
  });

  it('refuses an empty channel address and a second channel for the same method', async () => {
    await refuses('INSERT INTO contact_channels (contact_id, method_id, address) VALUES (?, 4, ?)', [contactOfA, ''], /CHECK_CONSTRAINT/);
    await refuses('INSERT INTO contact_channels (contact_id, method_id, address) VALUES (?, 1, ?)', [contactOfA, 'again@example.test'], /ER_DUP_ENTRY/);
  });

  it('refuses a user of an unknown company or role, and a malformed e-mail', async () => {
    await refuses('INSERT INTO users (company_id, role_id, email) VALUES (999999, 1, ?)', ['a@example.test'], /ER_NO_REFERENCED_ROW/);
    await refuses('INSERT INTO users (company_id, role_id, email) VALUES (?, 999999, ?)', [companyA, 'b@example.test'], /ER_NO_REFERENCED_ROW/);
    await refuses('INSERT INTO users (company_id, role_id, email) VALUES (?, 1, ?)', [companyA, 'not-an-email'], /CHECK_CONSTRAINT/);
  });

  it('refuses a duplicate campaign name within a company and an inverted schedule', async () => {
    await refuses("INSERT INTO campaigns (company_id, name, run_type_id) VALUES (?, 'constraint checks', 1)", [companyA], /ER_DUP_ENTRY/);
    await refuses("INSERT INTO campaigns (company_id, name, run_type_id, starts_at, ends_at) VALUES (?, 'x', 1, '2026-02-01', '2026-01-01')", [companyA], /CHECK_CONSTRAINT/);
  });

  it('refuses a batch whose lease ends before it was claimed, or with more outcomes than messages', async () => {
    const [[campaign]] = await conn.query('SELECT MIN(id) AS id FROM campaigns') as unknown as [[{ id: number }]];
    await refuses("INSERT INTO batches (campaign_id, run_type_id, worker, claimed_at, lease_until) VALUES (?, 1, 'w', '2026-01-02', '2026-01-01')", [campaign.id], /CHECK_CONSTRAINT/);
    await refuses("INSERT INTO batches (campaign_id, run_type_id, worker, claimed_at, lease_until, message_count, sent_count) VALUES (?, 1, 'w', '2026-01-01', '2026-01-02', 1, 2)", [campaign.id], /CHECK_CONSTRAINT/);
  });

  it('refuses a role allow-list entry for an unknown company', () =>
    refuses('INSERT INTO role_companies (role_id, company_id) VALUES (1, 999999)', [], /ER_NO_REFERENCED_ROW/));
});
