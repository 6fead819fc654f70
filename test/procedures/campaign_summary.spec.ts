import { expect } from 'chai';
import { Connection } from '../../tools/sql/connection';
import { claimBatch, completeBatch } from '../helpers/routine-calls';
import { createCampaign, expectSignal, insertMessages, seedCompany, sleep, usePipelineDatabase, Company } from '../pipeline/helpers';

type Row = Record<string, unknown>;

describe('campaign_summary', () => {
  const db = usePipelineDatabase('summary');
  let conn: Connection;
  let company: Company;
  let campaign: number;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 10);
    campaign = await createCampaign(conn, company.companyId);
  });
  after(async () => { await conn?.end(); });

  const summary = async (user = company.allowedUser) => {
    const [result] = await conn.query('CALL campaign_summary(?, ?)', [user, campaign]) as unknown as [Row[][]];
    const [byStatus, [overview], lanes] = result as Row[][];
    return {
      byStatus: byStatus.map((r) => `${r.status}/${r.method}=${r.messages}`),
      overview: Object.fromEntries(Object.entries(overview).map(([k, v]) => [k, v instanceof Date || v === null ? v : Number(v)])),
      lanes: lanes.map((r) => `${r.run_type}=${r.queued}`),
    };
  };

  it('counts by status and method, the queue (oldest ready message) and batches open and expired', async () => {
    await insertMessages(conn, campaign, { count: 6, packet: 1, contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 2, packet: 1, sendAfter: new Date(Date.now() + 3_600_000), contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 3, packet: 2, method: 2, contacts: company.contactIds.filter((id) => id % 2 === 1) });
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, campaign]);
    const done = await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 2, leaseSeconds: 60 });
    await completeBatch(conn, done.batch!.batchId, [{ message_id: done.messages[0].messageId, status: 'sent' }, { message_id: done.messages[1].messageId, status: 'bounced' }]);
    await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 1, leaseSeconds: 60 });
    await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 1, leaseSeconds: 1 });
    await sleep(1100);
    const s = await summary();
    expect(s.byStatus).to.deep.equal(['bounced/email=1', 'pending/sms=3', 'ready/email=6', 'sent/email=1']);
    expect(s.overview).to.include({
      campaign_id: campaign, messages: 11, pending: 3, queued: 2, scheduled: 2, in_flight: 1, lease_expired: 1,
      batches_open: 1, batches_expired: 1, batches_completed: 1,
    });
    expect(s.overview.oldest_ready_at).to.be.instanceOf(Date);
    expect(s.lanes).to.deep.equal(['immediate=3']);
    // The expired batch's only message claimed again by a new batch: the old batch is dead, not expired.
    const again = await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 3, leaseSeconds: 60 });
    expect(again.messages).to.have.length(3);
    expect((await summary()).overview).to.include({ queued: 0, in_flight: 4, lease_expired: 0, batches_open: 2, batches_expired: 0, batches_completed: 1 });
  });

  it('is for allowed users only', async () => {
    await summary(company.globalUser);
    await expectSignal(() => summary(company.deniedUser), new RegExp(`^access denied: user ${company.deniedUser} may not see company ${company.companyId}`));
    await expectSignal(() => conn.query('CALL campaign_summary(?, ?)', [company.allowedUser, 987654321]), /^campaign_summary: campaign_id 987654321 does not exist/);
  });
});
