// The worker loop's expected outcomes: a completion refused because the lease expired and the
// messages were claimed again is counted and logged, and the loop goes on.
import { expect } from 'chai';
import { Connection, queryRows } from '../../tools/sql/connection';
import { runWorker, simulatedSender } from '../../tools/pipeline/worker';
import { createCampaign, insertMessages, seedCompany, sleep, tableName, usePipelineDatabase, Company } from './helpers';

describe('pipeline worker loop', function () {
  this.timeout(60_000);
  const db = usePipelineDatabase('worker');
  let conn: Connection;
  let company: Company;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 50);
  });
  after(async () => { await conn?.end(); });

  it('a refused completion (lease expired, claimed again) is counted and logged, not fatal; every message completed once', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'lease lost');
    await insertMessages(conn, campaign, { count: 30, packet: 1, contacts: company.contactIds });
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.globalUser, campaign]);
    const slow = await db.connect();
    const other = await db.connect();
    const lines: string[] = [];
    let otherStats: Awaited<ReturnType<typeof runWorker>> | null = null;
    try {
      const slowStats = await runWorker(slow, {
        campaignId: campaign, runType: 'immediate', worker: 'slow', batchSize: 10, leaseSeconds: 1, send: simulatedSender(0),
        log: (line) => lines.push(line),
        // The first batch stalls past its lease; meanwhile another worker claims everything.
        afterClaim: async () => {
          if (otherStats) return;
          await sleep(1_300);
          otherStats = await runWorker(other, { campaignId: campaign, runType: 'immediate', worker: 'other', batchSize: 100, leaseSeconds: 60, send: simulatedSender(0) });
        },
      });
      expect(slowStats).to.include({ batches: 0, messages: 0, refusedBatches: 1, refusedMessages: 10 });
      expect(otherStats!).to.include({ messages: 30, refusedBatches: 0 });
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/^worker slow: complete_batch: batch \d+ expired at .* was claimed again: refused \(counted;/);
    } finally {
      await slow.end();
      await other.end();
    }
    const [row] = await queryRows<{ n: number; messages: number }>(conn,
      `SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS messages FROM \`${await tableName(conn, campaign, 'status_updates')}\``);
    expect({ n: Number(row.n), messages: Number(row.messages) }).to.deep.equal({ n: 30, messages: 30 });
  });
});
