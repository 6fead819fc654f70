// The pipeline under concurrency, against the real server: many workers on separate connections,
// a worker killed mid-batch, loading while claiming, and 16 workers on 200,000 rows.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { completeBatch } from '../helpers/routine-calls';
import { loadMessages } from '../../tools/pipeline/loader';
import { runWorker, simulatedSender, WorkerStats } from '../../tools/pipeline/worker';
import { createCampaign, expectSignal, insertMessages, sampleLocks, seedCompany, tableName, threadIds, usePipelineDatabase, Company } from './helpers';

interface Ledger {
  claimed: Map<number, number[]>;
  completed: Map<number, number[]>;
}

function newLedger(): Ledger {
  return { claimed: new Map(), completed: new Map() };
}

/** Every message completed by exactly one batch, and no message in two claims unless a lease expired. */
function expectExactlyOnce(ledger: Ledger, total: number, allowReclaimed = new Set<number>()) {
  const completedBy = new Map<number, number>();
  for (const [batch, ids] of ledger.completed) {
    for (const id of ids) {
      expect(completedBy.has(id), `message ${id} completed by batches ${completedBy.get(id)} and ${batch}`).to.equal(false);
      completedBy.set(id, batch);
    }
  }
  expect(completedBy.size).to.equal(total);
  const claimedBy = new Map<number, number>();
  for (const [batch, ids] of ledger.claimed) {
    for (const id of ids) {
      if (claimedBy.has(id) && !allowReclaimed.has(claimedBy.get(id)!)) {
        throw new Error(`message ${id} claimed by batches ${claimedBy.get(id)} and ${batch}: batches overlap`);
      }
      claimedBy.set(id, batch);
    }
  }
}

async function statusUpdateCounts(conn: Connection, campaignId: number): Promise<{ rows: number; messages: number }> {
  const [row] = await queryRows<{ rows: number; messages: number }>(conn,
    `SELECT COUNT(*) AS \`rows\`, COUNT(DISTINCT message_id) AS messages FROM \`${await tableName(conn, campaignId, 'status_updates')}\``);
  return { rows: Number(row.rows), messages: Number(row.messages) };
}

describe('pipeline concurrency', function () {
  this.timeout(180_000);
  const db = usePipelineDatabase('concurrency');
  let conn: Connection;
  let company: Company;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 2000);
  });
  after(async () => { await conn?.end(); });

  async function readyCampaign(count: number, name: string): Promise<number> {
    const campaign = await createCampaign(conn, company.companyId, name);
    await insertMessages(conn, campaign, { count, packet: 1, contacts: company.contactIds });
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.globalUser, campaign]);
    return campaign;
  }

  async function runWorkers(n: number, campaignId: number, ledger: Ledger, extra: Partial<Parameters<typeof runWorker>[1]> = {},
    onConnections?: (conns: Connection[]) => Promise<void>): Promise<WorkerStats[]> {
    const conns = await Promise.all(Array.from({ length: n }, () => db.connect()));
    try {
      await onConnections?.(conns);
      return await Promise.all(conns.map((c, i) => runWorker(c, {
        campaignId, runType: 'immediate', worker: `worker-${i}`, batchSize: 100, leaseSeconds: 60, send: simulatedSender(0),
        afterClaim: (batch, ids) => { ledger.claimed.set(batch, ids); },
        onBatch: (batch, ids) => { ledger.completed.set(batch, ids); },
        ...extra,
      })));
    } finally {
      for (const c of conns) await c.end().catch(() => c.destroy());
    }
  }

  it('16 workers claim and complete 50,000 messages: each exactly once, no overlapping batches, no deadlock escapes', async () => {
    const campaign = await readyCampaign(50_000, '16 workers');
    const ledger = newLedger();
    const started = Date.now();
    const stats = await runWorkers(16, campaign, ledger);
    const seconds = (Date.now() - started) / 1000;
    expect(stats.reduce((s, w) => s + w.messages, 0)).to.equal(50_000);
    expectExactlyOnce(ledger, 50_000);
    expect(await statusUpdateCounts(conn, campaign)).to.deep.equal({ rows: 50_000, messages: 50_000 });
    const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'ready_queue')}\``);
    expect(Number(n)).to.equal(0);
    const retries = stats.reduce((s, w) => s + w.retries, 0);
    console.log(`      16 workers: 50,000 messages in ${seconds.toFixed(1)} s (${Math.round(50_000 / seconds)} rows/s), ${stats.reduce((s, w) => s + w.batches, 0)} batches, ${retries} deadlock retries`);
  });

  it('a worker whose connection drops after claiming: its messages are claimed again after the lease and completed exactly once', async () => {
    const campaign = await readyCampaign(2_000, 'killed worker');
    const ledger = newLedger();
    const victim = await db.connect();
    let victimBatch = 0;
    // The worker claims, then its connection drops before it sends anything.
    const killed = await runWorker(victim, {
      campaignId: campaign, runType: 'immediate', worker: 'doomed', batchSize: 100, leaseSeconds: 2, send: simulatedSender(0),
      afterClaim: (batch, ids) => {
        victimBatch = batch;
        ledger.claimed.set(batch, ids);
        victim.destroy();
      },
    }).then(() => 'finished', (err: Error) => err.message);
    expect(killed).to.match(/closed state|connection/i);
    expect(victimBatch).to.be.greaterThan(0);
    const stats = await runWorkers(4, campaign, ledger, {
      leaseSeconds: 2, idleMs: 100,
      shouldStop: async () => (await statusUpdateCounts(conn, campaign)).messages >= 2_000,
    });
    expect(stats.reduce((s, w) => s + w.messages, 0)).to.equal(2_000);
    expectExactlyOnce(ledger, 2_000, new Set([victimBatch]));
    expect(await statusUpdateCounts(conn, campaign)).to.deep.equal({ rows: 2_000, messages: 2_000 });
    await expectSignal(() => completeBatch(conn, victimBatch, ledger.claimed.get(victimBatch)!.map((id) => ({ message_id: id, status: 'sent' }))),
      new RegExp(`^complete_batch: batch ${victimBatch} expired at .* was claimed again: refused`));
  });

  it('loading and claiming at the same time on the same campaign', async () => {
    const campaign = await readyCampaign(20_000, 'load while claiming');
    const ledger = newLedger();
    let loaded = false;
    const workers = runWorkers(8, campaign, ledger, {
      idleMs: 50,
      shouldStop: async () => loaded && (await statusUpdateCounts(conn, campaign)).messages >= 40_000,
    });
    // The bulk loader streams packet 2 into the same messages table while packet 1 is claimed.
    const csv = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-concurrent-')), 'packet2.csv');
    const lines = ['contact_id,method,packet,subject,body'];
    for (let i = 0; i < 20_000; i++) lines.push(`${company.contactIds[i % company.contactIds.length]},email,2,Reminder,Body ${i}`);
    fs.writeFileSync(csv, lines.join('\n') + '\n');
    const marker = await db.connect();
    try {
      while (ledger.claimed.size === 0) await new Promise((r) => setTimeout(r, 10));
      const claimsBefore = ledger.claimed.size;
      const load = await loadMessages({ url: db.url, campaignId: campaign, file: csv, progress: 'none', log: () => undefined });
      expect(load.loaded).to.equal(20_000);
      console.log(`      batches claimed while the loader ran: ${ledger.claimed.size - claimsBefore}`);
      const [result] = await marker.query('CALL mark_packet_ready(?, ?, 2)', [company.allowedUser, campaign]) as unknown as [[[{ marked: number }]]];
      expect(Number(result[0][0].marked)).to.equal(20_000);
      loaded = true;
    } finally {
      await marker.end();
      fs.rmSync(path.dirname(csv), { recursive: true, force: true });
    }
    const stats = await workers;
    expect(stats.reduce((s, w) => s + w.messages, 0)).to.equal(40_000);
    expectExactlyOnce(ledger, 40_000);
    expect(await statusUpdateCounts(conn, campaign)).to.deep.equal({ rows: 40_000, messages: 40_000 });
  });

  it('16 workers on 200,000 rows: the server stays up and no claim holds more than its own rows', async () => {
    const uptime = async () => Number((await queryRows<{ Value: string }>(conn, "SHOW GLOBAL STATUS LIKE 'Uptime'"))[0].Value);
    const upBefore = await uptime();
    const startedAt = Date.now();
    const campaign = await readyCampaign(200_000, '200k');
    const ledger = newLedger();
    const monitor = await db.connect();
    let sampler: ReturnType<typeof sampleLocks> | undefined;
    const t0 = Date.now();
    const stats = await runWorkers(16, campaign, ledger, {}, async (conns) => { sampler = sampleLocks(monitor, await threadIds(conns)); });
    const seconds = (Date.now() - t0) / 1000;
    const locks = await sampler!.stop();
    await monitor.end();
    expect(stats.reduce((s, w) => s + w.messages, 0)).to.equal(200_000);
    expectExactlyOnce(ledger, 200_000);
    const upAfter = await uptime();
    expect(upAfter, 'the server did not restart').to.be.at.least(upBefore + Math.floor((Date.now() - startedAt) / 1000) - 2);
    expect(locks.samples, 'the lock report was sampled').to.be.greaterThan(5);
    // A batch of 100 touches ~11 records per message (queue entry moved, status row, status
    // update and its foreign-key parents); the bound would be broken by any growth with history.
    expect(locks.maxRowLocks, 'row locks of any one worker transaction (batches of 100)').to.be.below(2_000);
    console.log(`      16 workers: 200,000 messages in ${seconds.toFixed(1)} s (${Math.round(200_000 / seconds)} rows/s), ` +
      `most row locks in one worker transaction: ${locks.maxRowLocks}, history list up to ${locks.maxHistory}`);
  });
});
