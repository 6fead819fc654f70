import { expect } from 'chai';
import { Connection, queryRows } from '../../tools/sql/connection';
import { Claim, claimBatch, completeBatch } from '../helpers/routine-calls';
import {
  checksums, createCampaign, expectSignal, insertMessages, seedCompany, sleep, tableName, usePipelineDatabase, Company,
} from '../pipeline/helpers';

describe('complete_batch', () => {
  const db = usePipelineDatabase('complete');
  let conn: Connection;
  let company: Company;
  let campaign: number;
  let packet = 0;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 50);
    campaign = await createCampaign(conn, company.companyId);
  });
  after(async () => { await conn?.end(); });

  /** A fresh packet of n messages, marked ready and claimed as one batch. */
  async function claimFresh(n: number, leaseSeconds = 60): Promise<Claim> {
    packet++;
    await insertMessages(conn, campaign, { count: n, packet, contacts: company.contactIds });
    await conn.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, packet]);
    const claim = await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: n, leaseSeconds });
    expect(claim.messages).to.have.length(n);
    return claim;
  }
  const statusOf = async (messageId: number) => {
    const [row] = await queryRows<{ code: string }>(conn,
      `SELECT s.code FROM \`${await tableName(conn, campaign, 'message_contact_status')}\` c JOIN contact_statuses s ON s.id = c.status_id WHERE c.message_id = ?`, [messageId]);
    return row?.code;
  };
  const updatesOf = async (messageId: number) => queryRows<{ code: string; provider_ref: string | null; detail: string | null }>(conn,
    `SELECT s.code, u.provider_ref, u.detail FROM \`${await tableName(conn, campaign, 'status_updates')}\` u JOIN contact_statuses s ON s.id = u.status_id WHERE u.message_id = ? ORDER BY u.id`, [messageId]);
  const queueOf = async (messageId: number) => queryRows<{ run_type: string; batch_id: number | null; attempts: number }>(conn,
    `SELECT r.code AS run_type, q.batch_id, q.attempts FROM \`${await tableName(conn, campaign, 'ready_queue')}\` q JOIN run_types r ON r.id = q.run_type_id WHERE q.message_id = ?`, [messageId]);

  it('records each outcome: status update, current status, queue entry; closes the batch with counts', async () => {
    const claim = await claimFresh(4);
    const [a, b, c, d] = claim.messages.map((m) => m.messageId);
    const done = await completeBatch(conn, claim.batch!.batchId, [
      { message_id: a, status: 'sent', provider_ref: 'prov-1' },
      { message_id: b, status: 'failed', detail: 'mailbox full' },
      { message_id: c, status: 'released' },
      { message_id: d, status: 'opted_out' },
    ]);
    expect(done).to.include({ batchId: claim.batch!.batchId, alreadyCompleted: false, messageCount: 4, sent: 1, failed: 1, retried: 1, released: 1 });
    expect(await updatesOf(a)).to.deep.equal([{ code: 'sent', provider_ref: 'prov-1', detail: null }]);
    expect(await updatesOf(b)).to.deep.equal([{ code: 'failed', provider_ref: null, detail: 'mailbox full' }]);
    expect(await updatesOf(c), 'released: no status update').to.deep.equal([]);
    expect(await statusOf(a)).to.equal('sent');
    expect(await statusOf(c)).to.equal('ready');
    expect(await statusOf(d)).to.equal('opted_out');
    expect(await queueOf(a)).to.deep.equal([]);
    expect(await queueOf(d)).to.deep.equal([]);
    expect(await queueOf(b)).to.deep.equal([{ run_type: 'retry', batch_id: null, attempts: 1 }]);
    expect(await queueOf(c)).to.deep.equal([{ run_type: 'immediate', batch_id: null, attempts: 0 }]);
    const again = await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 10, leaseSeconds: 60 });
    expect(again.messages.map((m) => m.messageId), 'a released message is claimable at once').to.deep.equal([c]);
    await completeBatch(conn, again.batch!.batchId, [{ message_id: c, status: 'sent' }]);
  });

  it('completing twice is harmless and says so', async () => {
    const claim = await claimFresh(2);
    const outcomes = claim.messages.map((m) => ({ message_id: m.messageId, status: 'sent' }));
    const first = await completeBatch(conn, claim.batch!.batchId, outcomes);
    const before = await checksums(conn, campaign);
    const second = await completeBatch(conn, claim.batch!.batchId, outcomes);
    expect(second).to.deep.equal({ ...first, alreadyCompleted: true });
    const third = await completeBatch(conn, claim.batch!.batchId, '[]');
    expect(third.alreadyCompleted).to.equal(true);
    expect(await checksums(conn, campaign)).to.deep.equal(before);
  });

  it('refuses an expired batch whose messages were claimed again, and changes nothing', async () => {
    const stale = await claimFresh(3, 1);
    await sleep(1100);
    const fresh = await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w2', maxRows: 10, leaseSeconds: 60 });
    expect(fresh.messages.map((m) => m.messageId).sort()).to.deep.equal(stale.messages.map((m) => m.messageId).sort());
    const before = await checksums(conn, campaign);
    await expectSignal(() => completeBatch(conn, stale.batch!.batchId, stale.messages.map((m) => ({ message_id: m.messageId, status: 'sent' }))),
      new RegExp(`^complete_batch: batch ${stale.batch!.batchId} expired at .* and message \\d+ was claimed again: refused`));
    expect(await checksums(conn, campaign)).to.deep.equal(before);
    const done = await completeBatch(conn, fresh.batch!.batchId, fresh.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
    expect(done.sent).to.equal(3);
    for (const m of fresh.messages) expect(await updatesOf(m.messageId)).to.have.length(1);
  });

  it('accepts an expired batch that nobody claimed again', async () => {
    const late = await claimFresh(2, 1);
    await sleep(1100);
    const done = await completeBatch(conn, late.batch!.batchId, late.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
    expect(done).to.include({ alreadyCompleted: false, sent: 2 });
  });

  it('refuses bad outcomes, naming the element, and changes nothing', async () => {
    const claim = await claimFresh(3);
    const other = await claimFresh(1);
    const batch = claim.batch!.batchId;
    const [a, b, c] = claim.messages.map((m) => m.messageId);
    const ok = (id: number) => ({ message_id: id, status: 'sent' });
    const before = await checksums(conn, campaign);
    await expectSignal(() => completeBatch(conn, 987654321, [ok(a)]), /^complete_batch: batch_id 987654321 does not exist/);
    await expectSignal(() => completeBatch(conn, batch, '[{"message_id": 1,'), /^complete_batch: outcomes is not valid JSON/);
    await expectSignal(() => completeBatch(conn, batch, '{"message_id": 1}'), /^complete_batch: outcomes must be a JSON array/);
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), { status: 'sent' }, ok(c)])), /^complete_batch: outcomes\[1\]: message_id missing or not a whole number/);
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), ok(b), { message_id: 'abc', status: 'sent' }])), /^complete_batch: outcomes\[2\]: message_id missing/);
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), ok(b), { message_id: 1.5, status: 'sent' }])), /^complete_batch: outcomes\[2\]: message_id missing/);
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), { message_id: b, status: 'teleported' }, ok(c)])), /^complete_batch: outcomes\[1\]: unknown status "teleported"/);
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([{ message_id: a, status: 'ready' }, ok(b), ok(c)])), /^complete_batch: outcomes\[0\]: unknown status "ready"/);
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), ok(b), { ...ok(c), provider_ref: 'x'.repeat(201) }])), /^complete_batch: outcomes\[2\]: provider_ref over 200/);
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), ok(b), ok(b)])), new RegExp(`^complete_batch: outcomes: message ${b} appears more than once`));
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), ok(b)])), new RegExp(`^complete_batch: outcomes cover 2 messages, batch ${batch} has 3`));
    await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), ok(b), ok(other.messages[0].messageId)])),
      new RegExp(`^complete_batch: outcomes: message ${other.messages[0].messageId} is not in batch ${batch}`));
    expect(await checksums(conn, campaign)).to.deep.equal(before);
    await conn.query('START TRANSACTION');
    try {
      await expectSignal(() => completeBatch(conn, batch, JSON.stringify([ok(a), ok(b), ok(c)])), /^complete_batch: must not be called inside an open transaction/);
    } finally {
      await conn.query('ROLLBACK');
    }
    expect(await checksums(conn, campaign)).to.deep.equal(before);
    expect((await completeBatch(conn, batch, [ok(a), ok(b), ok(c)])).sent).to.equal(3);
    await completeBatch(conn, other.batch!.batchId, [ok(other.messages[0].messageId)]);
  });
});
