// Measures one `health` read over 1,000 small campaigns (the figure "Measured: ..." in
// tools/health/README.md). Not a spec (no timed assertions): run it by hand,
//   npx ts-node --transpile-only test/health/measure-1000.ts [campaigns]
// against MYSQL_URL (default the local MariaDB); it creates and drops its own throwaway database.
import { createThrowawayDatabase } from '../../tools/harness/database';
import { migrateDatabase } from '../../tools/harness/migrated';
import { readCampaignMetrics, readHealthMetrics, readHistoryTableMetrics, readLogTableMetrics, readMaintenanceRuns } from '../../tools/health/metrics';
import { claimBatch } from '../helpers/routine-calls';
import { createCampaign, insertMessages, seedCompany } from '../pipeline/helpers';

async function main(): Promise<void> {
  const campaigns = Number(process.argv[2] ?? 1000);
  const db = await createThrowawayDatabase('health_measure');
  try {
    await migrateDatabase(db.url);
    const conn = await db.connect();
    const company = await seedCompany(conn, 20);
    const started = Date.now();
    for (let i = 0; i < campaigns; i++) {
      const id = await createCampaign(conn, company.companyId, `c${i}`);
      await insertMessages(conn, id, { count: 20, packet: 1, contacts: company.contactIds });
      await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, id]);
      await claimBatch(conn, { campaignId: id, runType: 'immediate', worker: 'm', maxRows: 5, leaseSeconds: 600 });
    }
    console.log(`set up ${campaigns} campaigns in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    for (let run = 1; run <= 3; run++) {
      const t = process.hrtime.bigint();
      const m = await readHealthMetrics(conn, { windowMinutes: 15, replicaUrls: [] });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      console.log(`run ${run}: ${m.campaigns.length} campaigns, ${m.server.historyTables.reduce((n, h) => n + h.tables, 0)} history tables: ${ms.toFixed(0)} ms`);
    }
    const parts: [string, () => Promise<unknown>][] = [
      ['health_campaigns', () => readCampaignMetrics(conn, 15)], ['log tables', () => readLogTableMetrics(conn)],
      ['history tables', () => readHistoryTableMetrics(conn)], ['maintenance runs', () => readMaintenanceRuns(conn)],
    ];
    for (const [name, read] of parts) {
      const t = process.hrtime.bigint();
      await read();
      console.log(`  ${name}: ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(0)} ms`);
    }
    await conn.end();
  } finally {
    if (process.env.KEEP) console.log(`kept ${db.url} (drop it when done; the test harness drops it as stale at its next run)`);
    else await db.drop();
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
