// The metrics `health` reads, against what the test set up on the real server.
import { expect } from 'chai';
import { readCampaignMetrics, readHistoryTableMetrics, readReplicaMetrics, readServerMetrics } from '../../tools/health/metrics';
import { connect, Connection, queryRows } from '../../tools/sql/connection';
import { claimBatch, completeBatch } from '../helpers/routine-calls';
import { Company, createCampaign, expectSignal, insertMessages, seedCompany, sleep, tableName, usePipelineDatabase } from '../pipeline/helpers';

describe('health metrics', () => {
  const db = usePipelineDatabase('health_metrics');
  let conn: Connection;
  let company: Company;
  let busy: number;
  let idle: number;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 20);
    busy = await createCampaign(conn, company.companyId, 'busy');
    idle = await createCampaign(conn, company.companyId, 'idle');
    await insertMessages(conn, busy, { count: 10, packet: 1, contacts: company.contactIds });
    await insertMessages(conn, busy, { count: 2, packet: 2, contacts: company.contactIds });
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, busy]);
  });
  after(async () => { await conn?.end(); });

  const metricsOf = async (campaignId: number, windowMinutes = 15) => {
    const all = await readCampaignMetrics(conn, windowMinutes);
    return all.find((c) => c.campaignId === campaignId)!;
  };

  it('counts ready, claimed, completed/sent/failed, open and expired leases and the claims in the window', async () => {
    const done = await claimBatch(conn, { campaignId: busy, runType: 'immediate', worker: 'w', maxRows: 3, leaseSeconds: 60 });
    const [a, b, c] = done.messages.map((m) => m.messageId);
    await completeBatch(conn, done.batch!.batchId, [{ message_id: a, status: 'sent' }, { message_id: b, status: 'sent' }, { message_id: c, status: 'failed' }]);
    await claimBatch(conn, { campaignId: busy, runType: 'immediate', worker: 'w', maxRows: 2, leaseSeconds: 60 });
    await claimBatch(conn, { campaignId: busy, runType: 'immediate', worker: 'w', maxRows: 1, leaseSeconds: 1 });
    await sleep(1100);

    const m = await metricsOf(busy);
    // 10 marked ready: 3 in a completed batch (2 sent, finished; the failure waits in the retry lane, not claimable yet),
    // 2 held by an open lease, 1 held by an expired one (claimable again), 4 untouched; packet 2 is not ready.
    expect(m).to.deep.include({
      campaignId: busy, name: 'busy', state: 'active', ready: 4, claimed: 2, completed: 2, sent: 2, failed: 0, retried: 1,
      leasesOpen: 1, leasesExpired: 1, expiredLeaseMessages: 1, claimedInWindow: 6, batchesInWindow: 3, claimRatePerMinute: 0.4,
    });
    expect(m.oldestReadySeconds).to.be.within(0, 600);
    expect(Date.parse(m.oldestReadyAt!)).to.be.a('number').and.not.NaN;
    expect(await metricsOf(idle)).to.deep.include({
      ready: 0, claimed: 0, completed: 0, oldestReadyAt: null, oldestReadySeconds: null, leasesOpen: 0, leasesExpired: 0, claimedInWindow: 0,
    });
  });

  it('measures the oldest ready message\'s age on the server clock', async () => {
    const queue = await tableName(conn, busy, 'ready_queue');
    await conn.query(`UPDATE \`${queue}\` SET visible_at = visible_at - INTERVAL 20 MINUTE WHERE batch_id IS NULL AND visible_at <= NOW(3)`);
    const m = await metricsOf(busy);
    expect(m.oldestReadySeconds).to.be.within(20 * 60, 30 * 60);
    expect(m.ready).to.equal(4);
  });

  it('stops counting an expired lease once its messages are claimed again', async () => {
    const all = await claimBatch(conn, { campaignId: busy, runType: 'immediate', worker: 'w', maxRows: 100, leaseSeconds: 60 });
    expect(await metricsOf(busy)).to.deep.include({
      ready: 0, claimed: 7, leasesOpen: 2, leasesExpired: 0, expiredLeaseMessages: 0, oldestReadyAt: null, claimedInWindow: 11,
    });
    // With one attempt allowed, a failure is final: completed and failed, not retried.
    await conn.query("UPDATE run_types SET max_attempts = 1 WHERE code = 'retry'");
    await completeBatch(conn, all.batch!.batchId, all.messages.map((m, i) => ({ message_id: m.messageId, status: i === 0 ? 'failed' : 'sent' })));
    expect(await metricsOf(busy)).to.deep.include({ claimed: 2, completed: 7, sent: 6, failed: 1, retried: 1, leasesOpen: 1 });
  });

  it('reads one campaign, and refuses a bad window or an unknown campaign', async () => {
    const [row] = await queryRows<Record<string, unknown>[]>(conn, 'CALL health_campaigns(?, 60)', [idle]) as unknown as Record<string, unknown>[][];
    expect(row.map((r) => Number(r.campaign_id))).to.deep.equal([idle]);
    await expectSignal(() => conn.query('CALL health_campaigns(NULL, 0)'), /^health_campaigns: window_minutes must be between 1 and 1440, got 0/);
    await expectSignal(() => conn.query('CALL health_campaigns(987654321, 15)'), /^health_campaigns: campaign_id 987654321 does not exist/);
  });

  it('reports log tables (live with the oldest unrotated row, rotated), history sizes and the last maintenance runs', async () => {
    await conn.query("INSERT INTO log_events (logged_at, level, source, message) VALUES (NOW(3) - INTERVAL 2 DAY, 'info', 'test', 'old'), (NOW(3), 'info', 'test', 'new')");
    await conn.query('CREATE TABLE log_events__20250101_20250102 LIKE log_events');
    await conn.query("INSERT INTO maintenance_runs (step, started_at, finished_at, ok, detail) VALUES ('offload', NOW(3) - INTERVAL 1 HOUR, NOW(3) - INTERVAL 59 MINUTE, 0, 'verify failed')");
    await conn.query("INSERT INTO maintenance_runs (step, started_at, ok) VALUES ('rotate-logs', NOW(3), NULL)");
    const server = await readServerMetrics(conn, []);
    expect(server.database).to.equal(db.name);
    const live = server.logTables.find((t) => t.table === 'log_events')!;
    expect(live.rotated).to.equal(false);
    expect(live.oldestRowSeconds).to.be.within(2 * 86400, 2 * 86400 + 600);
    expect(server.logTables.find((t) => t.table === 'log_batches')).to.deep.include({ rotated: false, oldestRowAt: null, oldestRowSeconds: null });
    expect(server.logTables.find((t) => t.table === 'log_events__20250101_20250102')).to.deep.include({ base: 'log_events', rotated: true });
    expect(server.historyTables.map((h) => `${h.kind}:${h.tables}`)).to.include.members(['batches_history:1', 'campaign_N_messages_history:2']);
    expect(server.maintenance.offload).to.deep.include({ ok: false, detail: 'verify failed' });
    expect(server.maintenance['rotate-logs']).to.deep.include({ ok: null, finishedAt: null });
    expect(server.maintenance.history).to.equal(null);
    await conn.query("INSERT INTO maintenance_runs (step, started_at, finished_at, ok) VALUES ('offload', NOW(3), NOW(3), 1)");
    expect((await readServerMetrics(conn, [])).maintenance.offload!.ok).to.equal(true);
  });

  it('reads history sizes from information_schema for a user who may not read mysql.innodb_table_stats', async () => {
    const user = `rdbt_health_${process.pid}`;
    await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'health-pw'`);
    try {
      await conn.query(`GRANT SELECT ON \`${db.name}\`.* TO '${user}'@'%'`);
      const url = new URL(db.url);
      url.username = user;
      url.password = 'health-pw';
      const limited = await connect(url.toString());
      try {
        const kinds = (await readHistoryTableMetrics(limited)).map((h) => `${h.kind}:${h.tables}`);
        expect(kinds).to.deep.equal((await readHistoryTableMetrics(conn)).map((h) => `${h.kind}:${h.tables}`));
        expect(kinds).to.include('campaign_N_messages_history:2');
      } finally {
        await limited.end();
      }
    } finally {
      await conn.query(`DROP USER '${user}'@'%'`);
    }
  });

  it('reports a replica it cannot reach, and a server that is not a replica, without failing', async () => {
    const [down, notReplica] = await readReplicaMetrics(['mysql://root@127.0.0.1:1/nowhere', db.url]);
    expect(down).to.deep.include({ replica: 'mysql://root@127.0.0.1:1/nowhere', reachable: false, running: false, lagSeconds: null });
    expect(down.error).to.match(/cannot connect/);
    expect(notReplica).to.deep.include({ reachable: true, running: false, error: 'not a replica (SHOW REPLICA STATUS is empty)' });
  });
});
