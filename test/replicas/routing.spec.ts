// Read routing through the bindings with a real primary and a real replica (MariaDB leg only: see
// helpers.ts). Where a call ran is read from the servers themselves: Com_call_procedure counts the
// CALLs clients sent to a server (replication applies rows, never CALLs), and a delayed replica
// answers with data the primary has already moved past.
import { expect } from 'chai';
import type { Pool } from 'mysql2/promise';
import { campaignSummary, claimBatch, createRouter, FallbackEvent, readReplicaStatus, RouteError, Router, RouterOptions } from '../../bindings';
import { setReplicaDelay, startReplica, stopReplica, waitForReplica } from '../../tools/harness/replication';
import { Connection, connect, withConnection } from '../../tools/sql/connection';
import { waitFor } from '../helpers/cli';
import { createCampaign, insertMessages, seedCompany, Company } from '../pipeline/helpers';
import { applicationPool, statusCounter, useReplicatedDatabase } from './helpers';

describe('replicas: read routing in the bindings (real primary and replica)', function () {
  this.timeout(120_000);
  const db = useReplicatedDatabase();
  let primary: Pool;
  let replica: Pool;
  let company: Company;
  let campaignId: number;
  const fallbacks: FallbackEvent[] = [];

  /** CALL statements each server ran for its clients (nested CALLs inside routines included). */
  const calls = async () => ({
    primary: await statusCounter(db.pair.primary.url, 'Com_call_procedure'),
    replica: await statusCounter(db.pair.replica.url, 'Com_call_procedure'),
  });
  const router = (options: Partial<RouterOptions> = {}): Router => createRouter({
    primary, replicas: [replica], maxLagSeconds: 60, lagCheckIntervalMs: 0, onFallback: (e) => fallbacks.push(e), ...options,
  });
  const claim = (r: Router, worker: string) => claimBatch(r, { campaignId, runType: 'immediate', worker, maxRows: 1, leaseSeconds: 3600 });
  const inFlight = async (r: Router, options?: Parameters<typeof campaignSummary>[2]) =>
    (await campaignSummary(r, { userId: company.allowedUser, campaignId }, options)).overview[0].inFlight;

  before(async () => {
    const conn: Connection = await connect(db.primaryUrl);
    try {
      company = await seedCompany(conn, 10);
      campaignId = await createCampaign(conn, company.companyId);
      await insertMessages(conn, campaignId, { count: 20, packet: 1, contacts: company.contactIds });
      await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, campaignId]);
    } finally {
      await conn.end();
    }
    await waitForReplica(db.pair);
    primary = applicationPool(db.primaryUrl);
    replica = applicationPool(db.replicaUrl);
  });
  after(async () => {
    await primary?.end().catch(() => undefined);
    await replica?.end().catch(() => undefined);
  });
  beforeEach(() => { fallbacks.length = 0; });

  // Mocha runs a describe's own tests before its nested describes: every test is in a describe, so
  // they run in the order written (the last one stops the replica server).
  describe('a healthy replica', () => {
    it('sends a write to the primary and reads it back through the replica once applied', async () => {
      const r = router();
      const before = await calls();
      const claimed = await claim(r, 'w1');
      expect(claimed.messages).to.have.length(1);
      const afterWrite = await calls();
      expect(afterWrite.primary - before.primary, 'claim_batch CALLed on the primary').to.be.greaterThan(0);
      expect(afterWrite.replica - before.replica, 'nothing CALLed on the replica').to.equal(0);

      await waitForReplica(db.pair);
      expect(await inFlight(r)).to.equal(1n);
      const afterRead = await calls();
      expect(afterRead.replica - afterWrite.replica, 'campaign_summary CALLed on the replica').to.be.greaterThan(0);
      expect(afterRead.primary - afterWrite.primary, 'nothing CALLed on the primary').to.equal(0);
      expect(r.counters).to.deep.equal({ primary: 1, replica: 1, fallbacks: 0, retries: 0 });
      expect(fallbacks).to.deep.equal([]);
    });

  });

  describe('with a replica applying events an hour late', () => {
    before(async () => { await setReplicaDelay(db.pair, 3600); });
    after(async () => {
      if (!db.pair) return;
      await setReplicaDelay(db.pair, 0);
      await waitForReplica(db.pair);
    });

    it('reads answer from the replica (not yet showing a new write), and { route: "primary" } reads the write', async () => {
      const r = router({ maxLagSeconds: 3600 });
      await claim(r, 'w2');
      // The replica has received the write (its lag is measured from it) but not applied it.
      await waitFor(async () => ((await withConnection(db.pair.replica.url, readReplicaStatus, { database: null }))?.lagSeconds ?? 0) >= 1, 30_000, 'the replica to report lag');
      const before = await calls();
      expect(await inFlight(r), 'from the replica: the second claim is not applied there').to.equal(1n);
      expect(await inFlight(r, { route: 'primary' }), 'from the primary: read-your-writes').to.equal(2n);
      const after = await calls();
      expect(after.replica - before.replica, 'one read on the replica').to.be.greaterThan(0);
      expect(after.primary - before.primary, 'one read on the primary').to.be.greaterThan(0);
      expect(fallbacks).to.deep.equal([]);
    });

    it('a replica lagging beyond maxLagSeconds sends reads to the primary (also per call)', async () => {
      await waitFor(async () => ((await withConnection(db.pair.replica.url, readReplicaStatus, { database: null }))?.lagSeconds ?? 0) >= 3, 30_000, 'the replica to lag 3 s');
      const r = router({ maxLagSeconds: 2 });
      const before = await calls();
      expect(await inFlight(r)).to.equal(2n);
      expect(fallbacks).to.have.length(1);
      expect(fallbacks[0].routine).to.equal('campaign_summary');
      expect(fallbacks[0].reason).to.match(/^replica 0: lag \d+ s > 2 s$/);
      // The same router, for one call that accepts an hour of lag, reads the replica again.
      expect(await inFlight(r, { maxLagSeconds: 3600 })).to.equal(1n);
      const after = await calls();
      expect(after.primary - before.primary).to.be.greaterThan(0);
      expect(after.replica - before.replica).to.be.greaterThan(0);
      expect(r.counters).to.deep.equal({ primary: 1, replica: 1, fallbacks: 1, retries: 0 });
    });
  });

  describe('routing rules', () => {
    it('refuses { route: "replica" } for a routine that may write, before calling anything', async () => {
      const r = router();
      const before = await calls();
      const err = await claimBatch(r, { campaignId, runType: 'immediate', worker: 'w3', maxRows: 1, leaseSeconds: 60 }, { route: 'replica' }).then(() => null, (e: Error) => e);
      expect(err).to.be.instanceOf(RouteError);
      expect(err!.message).to.equal('claim_batch: may write (not READS SQL DATA): it cannot be sent to a replica');
      expect(await calls()).to.deep.equal(before);
    });

    it('reads the replica status at most once per lagCheckIntervalMs, not on every call', async () => {
      const r = router({ lagCheckIntervalMs: 60_000 });
      const before = await statusCounter(db.pair.replica.url, 'Com_show_slave_status');
      await Promise.all([inFlight(r), inFlight(r)]);
      await inFlight(r);
      // One by the router; the counter read itself is SHOW GLOBAL STATUS, not counted here.
      expect(await statusCounter(db.pair.replica.url, 'Com_show_slave_status') - before).to.equal(1);
      expect(r.counters.replica).to.equal(3);
    });

  });

  describe('a replica that is stopped or gone', () => {
    it('a stopped replica (STOP SLAVE) makes reads fall back to the primary, not fail', async () => {
      await stopReplica(db.pair);
      try {
        const r = router();
        const before = await calls();
        expect(await inFlight(r)).to.equal(2n);
        const after = await calls();
        expect(after.primary - before.primary).to.be.greaterThan(0);
        expect(after.replica - before.replica).to.equal(0);
        expect(fallbacks.map((f) => f.reason)).to.deep.equal(['replica 0: replication stopped']);
        const [health] = await r.health();
        expect(health).to.include({ index: 0, healthy: false, reason: 'replication stopped' });
      } finally {
        await startReplica(db.pair);
        await waitForReplica(db.pair);
      }
    });

    // Last: it stops the replica server for good.
    it('a replica server that dies: the call that finds it dead is retried on the primary, later reads fall back', async () => {
      const r = router({ lagCheckIntervalMs: 3_600_000 });
      expect(await inFlight(r)).to.equal(2n);
      expect(r.counters.replica).to.equal(1);
      await db.pair.replica.stop();

      // The router still believes the replica healthy (measured a moment ago): the call goes there,
      // loses its connection, and runs again on the primary.
      expect(await inFlight(r)).to.equal(2n);
      expect(r.counters).to.include({ retries: 1 });
      expect(fallbacks).to.have.length(1);
      expect(fallbacks[0].reason).to.match(/^replica 0: connection error: /);

      // From then on reads go straight to the primary.
      expect(await inFlight(r)).to.equal(2n);
      expect(r.counters).to.deep.equal({ primary: 2, replica: 2, fallbacks: 1, retries: 1 });

      // A new router measures the dead replica and never tries it.
      const fresh = router();
      expect(await inFlight(fresh)).to.equal(2n);
      expect(fresh.counters).to.deep.equal({ primary: 1, replica: 0, fallbacks: 1, retries: 0 });
      expect(fallbacks[fallbacks.length - 1].reason).to.match(/^replica 0: status check failed: /);
    });
  });
});
