import { expect } from 'chai';
import { Connection, queryRows } from '../../tools/sql/connection';
import { claimBatch, completeBatch } from '../helpers/routine-calls';
import {
  checksums, createCampaign, expectSignal, insertMessages, seedCompany, sleep, tableName, usePipelineDatabase, Company,
} from '../pipeline/helpers';

/** Row locks an open transaction of the connection holds, from InnoDB's own report. */
async function rowLocksOf(monitor: Connection, threadId: number): Promise<number> {
  const [trx] = await queryRows<{ n: number }>(monitor,
    'SELECT trx_rows_locked AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?', [threadId]);
  if (trx) return Number(trx.n);
  const [status] = await queryRows<{ Status: string }>(monitor, 'SHOW ENGINE INNODB STATUS');
  for (const block of status.Status.split('---TRANSACTION').slice(1)) {
    if (new RegExp(`thread id ${threadId}\\b`).test(block)) return Number(/(\d+) row lock\(s\)/.exec(block)?.[1] ?? 0);
  }
  throw new Error(`no InnoDB transaction for thread ${threadId}`);
}

describe('claim_batch', () => {
  const db = usePipelineDatabase('claim');
  let conn: Connection;
  let company: Company;
  let campaign: number;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 50);
    campaign = await createCampaign(conn, company.companyId);
  });
  after(async () => { await conn?.end(); });

  const claim = (runType: string, maxRows: number, leaseSeconds = 60, worker = 'w1', campaignId = campaign) =>
    claimBatch(conn, { campaignId, runType, worker, maxRows, leaseSeconds });
  const markPacket = (packet: number, campaignId = campaign) => conn.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaignId, packet]);

  it('takes the oldest ready messages of the lane, with each contact\'s channel, and records the batch', async () => {
    await insertMessages(conn, campaign, { count: 5, packet: 1, contacts: company.contactIds });
    await markPacket(1);
    const first = await claim('immediate', 3);
    expect(first.batch).to.include({ campaignId: campaign, runType: 'immediate', worker: 'w1', messageCount: 3 });
    expect(first.batch!.leaseUntil.getTime() - first.batch!.claimedAt.getTime()).to.equal(60_000);
    expect(first.messages).to.have.length(3);
    for (const m of first.messages) {
      expect(m).to.include({ method: 'email', address: `c${m.contactId}@example.com`, attempt: 1, packet: 1 });
    }
    const ids = first.messages.map((m) => m.messageId);
    expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
    const second = await claim('immediate', 10);
    expect(second.messages).to.have.length(2);
    expect(second.messages.map((m) => m.messageId)).to.not.include.members(ids);
    const [{ n: before }] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM batches');
    const none = await claim('immediate', 10);
    expect(none).to.deep.equal({ batch: null, messages: [] });
    const fresh = await db.connect();
    try {
      const first = await claimBatch(fresh, { campaignId: campaign, runType: 'retry', worker: 'new', maxRows: 10, leaseSeconds: 60 });
      expect(first, 'an empty claim as the first call of a session').to.deep.equal({ batch: null, messages: [] });
    } finally {
      await fresh.end();
    }
    const [{ n: afterEmpty }] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM batches');
    expect(Number(afterEmpty), 'an empty claim records no batch').to.equal(Number(before));
    await completeBatch(conn, first.batch!.batchId, first.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
    await completeBatch(conn, second.batch!.batchId, second.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
  });

  it('scheduled: takes only messages whose send_after is reached; immediate does not see them', async () => {
    await insertMessages(conn, campaign, { count: 2, packet: 2, sendAfter: new Date(Date.now() - 3_600_000), contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 2, packet: 2, sendAfter: new Date(Date.now() + 3_600_000), contacts: company.contactIds });
    await markPacket(2);
    expect((await claim('immediate', 10)).messages).to.have.length(0);
    const due = await claim('scheduled', 10);
    expect(due.messages).to.have.length(2);
    for (const m of due.messages) expect(m.sendAfter!.getTime()).to.be.lessThan(Date.now());
    await completeBatch(conn, due.batch!.batchId, due.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
  });

  it('retry: takes failed messages after the backoff while attempts stay below max_attempts', async () => {
    await conn.query("UPDATE run_types SET retry_backoff_seconds = 1, max_attempts = 2 WHERE code = 'retry'");
    try {
      await insertMessages(conn, campaign, { count: 1, packet: 3, contacts: company.contactIds });
      await markPacket(3);
      const first = await claim('immediate', 10);
      expect(first.messages).to.have.length(1);
      const id = first.messages[0].messageId;
      const done = await completeBatch(conn, first.batch!.batchId, [{ message_id: id, status: 'failed', detail: 'timeout' }]);
      expect(done).to.include({ failed: 1, retried: 1 });
      expect((await claim('retry', 10)).messages, 'not before the backoff').to.have.length(0);
      await sleep(1100);
      const retry = await claim('retry', 10);
      expect(retry.messages.map((m) => [m.messageId, m.attempt])).to.deep.equal([[id, 2]]);
      const last = await completeBatch(conn, retry.batch!.batchId, [{ message_id: id, status: 'failed' }]);
      expect(last).to.include({ failed: 1, retried: 0 });
      await sleep(2100);
      expect((await claim('retry', 10)).messages, 'max_attempts reached: no more retries').to.have.length(0);
      const updates = await queryRows<{ code: string }>(conn,
        `SELECT s.code FROM \`${await tableName(conn, campaign, 'status_updates')}\` u JOIN contact_statuses s ON s.id = u.status_id WHERE u.message_id = ? ORDER BY u.id`, [id]);
      expect(updates.map((u) => u.code)).to.deep.equal(['failed', 'failed_permanently']);
    } finally {
      await conn.query("UPDATE run_types SET retry_backoff_seconds = 300, max_attempts = 3 WHERE code = 'retry'");
    }
  });

  it('makes the messages of a batch whose lease expired claimable again', async () => {
    await insertMessages(conn, campaign, { count: 3, packet: 4, contacts: company.contactIds });
    await markPacket(4);
    const first = await claim('immediate', 10, 1, 'slow worker');
    expect(first.messages).to.have.length(3);
    expect((await claim('immediate', 10)).messages, 'held while the lease runs').to.have.length(0);
    await sleep(1100);
    const again = await claim('immediate', 10, 60, 'other worker');
    expect(again.messages.map((m) => m.messageId).sort()).to.deep.equal(first.messages.map((m) => m.messageId).sort());
    expect(again.batch!.batchId).to.not.equal(first.batch!.batchId);
    await completeBatch(conn, again.batch!.batchId, again.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
  });

  it('refuses bad arguments, naming them, and changes nothing', async () => {
    await insertMessages(conn, campaign, { count: 2, packet: 5, contacts: company.contactIds });
    await markPacket(5);
    const noSet = await (async () => {
      const [r] = await conn.query("INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, 'no set', id, 'draft' FROM run_types WHERE code = 'immediate'",
        [company.companyId]) as unknown as [{ insertId: number }];
      return Number(r.insertId);
    })();
    const retired = await createCampaign(conn, company.companyId, 'retired');
    await conn.query("UPDATE campaign_sets SET state = 'retired' WHERE campaign_id = ?", [retired]);
    const before = await checksums(conn, campaign);
    await expectSignal(() => claim('immediate', 10, 60, 'w', 987654321), /^claim_batch: campaign_id 987654321 does not exist/);
    await expectSignal(() => claim('immediate', 10, 60, 'w', noSet), new RegExp(`^claim_batch: campaign ${noSet} has no table set`));
    await expectSignal(() => claim('immediate', 10, 60, 'w', retired), new RegExp(`^claim_batch: campaign ${retired}: its table set is retired`));
    await expectSignal(() => claim('weekly', 10), /^claim_batch: unknown run_type "weekly"/);
    await expectSignal(() => claim('immediate', 10, 60, ''), /^claim_batch: worker must be 1 to 64 characters/);
    await expectSignal(() => claim('immediate', 10, 60, 'x'.repeat(65)), /^claim_batch: worker must be 1 to 64 characters/);
    await expectSignal(() => claim('immediate', 0), /^claim_batch: max_rows must be between 1 and 10000, got 0/);
    await expectSignal(() => claim('immediate', -5), /^claim_batch: max_rows must be between 1 and 10000, got -5/);
    await expectSignal(() => claim('immediate', 10001), /^claim_batch: max_rows must be between 1 and 10000, got 10001/);
    await expectSignal(() => claim('immediate', 10, 0), /^claim_batch: lease_seconds must be between 1 and 86400, got 0/);
    await expectSignal(() => claim('immediate', 10, 86401), /^claim_batch: lease_seconds must be between 1 and 86400, got 86401/);
    expect(await checksums(conn, campaign)).to.deep.equal(before);
  });

  it('refuses to run inside the caller\'s open transaction, leaving it alone', async () => {
    await conn.query('START TRANSACTION');
    try {
      await expectSignal(() => claim('immediate', 10), /^claim_batch: must not be called inside an open transaction/);
    } finally {
      await conn.query('ROLLBACK');
    }
    const left = await claim('immediate', 10);
    expect(left.messages).to.have.length(2);
    await completeBatch(conn, left.batch!.batchId, left.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
  });

  it('locks only the rows it takes, however much claimed history purge has not removed yet', async function () {
    this.timeout(60_000);
    const c2 = await createCampaign(conn, company.companyId, 'history');
    await insertMessages(conn, c2, { count: 3000, packet: 1, contacts: company.contactIds });
    await markPacket(1, c2);
    const snapshot = await db.connect();
    const blocker = await db.connect();
    const claimer = await db.connect();
    try {
      // A reader holding an old snapshot stops purge: every claimed entry stays delete-marked.
      await snapshot.query('START TRANSACTION WITH CONSISTENT SNAPSHOT');
      await snapshot.query(`SELECT COUNT(*) FROM \`${await tableName(conn, c2, 'ready_queue')}\``);
      for (let i = 0; i < 40; i++) {
        const b = await claim('immediate', 50, 60, 'history', c2);
        await completeBatch(conn, b.batch!.batchId, b.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
      }
      // Hold the next claim after its range read (it waits to insert its batch) and count its locks.
      await blocker.query('LOCK TABLES batches WRITE');
      const [[{ id: threadId }]] = await claimer.query('SELECT CONNECTION_ID() AS id') as unknown as [[{ id: number }]];
      const pending = claimBatch(claimer, { campaignId: c2, runType: 'immediate', worker: 'measured', maxRows: 50, leaseSeconds: 60 });
      let locks = -1;
      for (let i = 0; i < 200 && locks < 0; i++) {
        await sleep(25);
        const [state] = await queryRows<{ s: string | null }>(conn, 'SELECT STATE AS s FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
        if (state && /lock/i.test(state.s ?? '')) locks = await rowLocksOf(conn, Number(threadId));
      }
      await blocker.query('UNLOCK TABLES');
      const taken = await pending;
      expect(taken.messages).to.have.length(50);
      expect(locks, 'the claim was seen waiting').to.be.greaterThan(0);
      // 2,000 claimed entries lie before the range the claim reads; it locks the 50 it takes.
      expect(locks).to.be.at.most(60);
    } finally {
      await blocker.query('UNLOCK TABLES').catch(() => undefined);
      await snapshot.query('ROLLBACK').catch(() => undefined);
      for (const c of [snapshot, blocker, claimer]) await c.end().catch(() => c.destroy());
    }
  });
});
