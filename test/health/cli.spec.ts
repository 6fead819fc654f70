// `reminderly-db health` as cron or CI runs it: exit 0 healthy, 2 naming each breached alarm.
import { expect } from 'chai';
import { ExitCode } from '../../tools/errors';
import { createThrowawayDatabase } from '../../tools/harness/database';
import { Connection } from '../../tools/sql/connection';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { claimBatch } from '../helpers/routine-calls';
import { Company, createCampaign, insertMessages, seedCompany, sleep, tableName, usePipelineDatabase } from '../pipeline/helpers';
import { parsePrometheus } from './prometheus';

describe('reminderly-db health', () => {
  const db = usePipelineDatabase('health_cli');
  let conn: Connection;
  let company: Company;
  let campaign: number;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 10);
    campaign = await createCampaign(conn, company.companyId, 'acceptance');
    await insertMessages(conn, campaign, { count: 5, packet: 1, contacts: company.contactIds });
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, campaign]);
    await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 1, leaseSeconds: 600 });
  });
  after(async () => { await conn?.end(); });

  const health = (...args: string[]) => runCli(['health', '--url', db.url, ...args]);

  it('exits 0 when healthy, and --json reports every metric of the issue', () => {
    const r = health('--json', '--window', '30m');
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const report = JSON.parse(r.stdout);
    expect(report).to.include({ healthy: true, windowMinutes: 30 });
    expect(report.alarms).to.deep.equal([]);
    expect(Object.keys(report.thresholds).sort()).to.deep.equal(['expiredLeases', 'logRotationHours', 'maintenanceUnfinishedMinutes', 'offloadFailed', 'oldestReadyMinutes', 'replicaLagSeconds']);
    const c = report.campaigns.find((x: { campaignId: number }) => x.campaignId === campaign);
    expect(c).to.include({ ready: 4, claimed: 1, completed: 0, failed: 0, leasesOpen: 1, leasesExpired: 0, claimedInWindow: 1 });
    for (const key of ['ready', 'claimed', 'completed', 'failed', 'oldestReadySeconds', 'leasesOpen', 'leasesExpired', 'claimRatePerMinute']) {
      expect(c, key).to.have.property(key);
    }
    expect(report.server.logTables.map((t: { table: string }) => t.table)).to.include.members(['log_batches', 'log_events']);
    for (const key of ['rowsEstimate', 'bytes', 'oldestRowSeconds']) expect(report.server.logTables[0]).to.have.property(key);
    expect(report.server.historyTables.map((h: { kind: string }) => h.kind)).to.include('batches_history');
    expect(report.server.replicas).to.deep.equal([]);
    expect(Object.keys(report.server.maintenance)).to.deep.equal(['history', 'rotate-logs', 'offload', 'run']);
  });

  it('prints the Prometheus text format, which parses', () => {
    const r = health('--prometheus');
    expect(r.code).to.equal(0);
    const families = parsePrometheus(r.stdout);
    expect(families.get('reminderly_campaign_ready_messages')!.samples).to.deep.include({ labels: { campaign_id: String(campaign) }, value: 4 });
    expect(families.get('reminderly_health_healthy')!.samples).to.deep.equal([{ labels: {}, value: 1 }]);
    for (const f of families.values()) expect(f.type).to.equal('gauge');
  });

  it('acceptance: an expired lease and a message older than the threshold exit 3 (findings) naming both', async () => {
    await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 1, leaseSeconds: 1 });
    await sleep(1100);
    const queue = await tableName(conn, campaign, 'ready_queue');
    await conn.query(`UPDATE \`${queue}\` SET visible_at = visible_at - INTERVAL 20 MINUTE WHERE batch_id IS NULL`);

    const text = health();
    expect(text.code).to.equal(ExitCode.Findings);
    expect(text.stdout.split('\n')[0]).to.equal('ALARM: 2 threshold(s) breached');
    expect(text.stderr).to.equal(`reminderly-db: health: 2 alarm(s): oldest_ready (campaign ${campaign}), expired_leases (campaign ${campaign})\n`);

    const json = health('--json');
    expect(json.code).to.equal(ExitCode.Findings);
    const alarms = JSON.parse(json.stdout).alarms as { name: string; subject: string; value: number; threshold: number }[];
    expect(alarms.map((a) => [a.name, a.subject, a.threshold])).to.deep.equal([
      ['oldest_ready', `campaign ${campaign}`, 15], ['expired_leases', `campaign ${campaign}`, 0],
    ]);
    expect(alarms[0].value).to.be.at.least(20);
    expect(alarms[1].value).to.equal(1);

    const scraped = parsePrometheus(health('--prometheus').stdout);
    expect(scraped.get('reminderly_health_alarm')!.samples.map((s) => s.labels.alarm)).to.deep.equal(['oldest_ready', 'expired_leases']);
  });

  it('flags override the thresholds for one run', () => {
    const r = health('--oldest-ready-minutes', '60', '--expired-leases', '1');
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
  });

  it('reports a killed maintenance step as unfinished, and alarms once it has been so for longer than the threshold', async () => {
    await conn.query("INSERT INTO log_events (level, source, message) VALUES ('info', 'probe', 'a row to rotate')");
    expect(runCli(['maintenance', 'rotate-logs', '--url', db.url]).code).to.equal(0);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-health-offload-'));
    try {
      const run = runCliAsync(['maintenance', 'offload', '--older-than', '0m', '--out', out, '--url', db.url], { REMINDERLY_PAUSE_AT: 'dump' });
      let stderr = '';
      run.child.stderr!.on('data', (d) => { stderr += d; });
      await waitFor(async () => stderr.includes('paused at dump'), 60_000, 'the offload to reach the dump');
      run.child.kill('SIGKILL');
      await run.done;
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
    const quiet = ['--oldest-ready-minutes', 'off', '--expired-leases', 'off'];
    const fresh = health(...quiet);
    expect(fresh.code, fresh.stderr).to.equal(0);
    expect(fresh.stdout).to.match(/^  offload: unfinished \(running or killed, \d+ min\), started /m);
    // Seven hours on, as the server's clock sees it: past the default threshold of 360 min.
    await conn.query("UPDATE maintenance_runs SET started_at = started_at - INTERVAL 7 HOUR WHERE step = 'offload' AND finished_at IS NULL");
    const late = health(...quiet, '--json');
    expect(late.code, late.stderr).to.equal(ExitCode.Findings);
    const alarms = JSON.parse(late.stdout).alarms as { name: string; subject: string; value: number }[];
    expect(alarms.map((a) => `${a.name} ${a.subject}`)).to.deep.equal(['maintenance_unfinished offload']);
    expect(alarms[0].value).to.be.at.least(420);
    expect(health(...quiet, '--maintenance-unfinished-minutes', 'off').code).to.equal(0);
  });

  it('alarms on a failed last offload and on a replica it cannot reach', async () => {
    await conn.query("INSERT INTO maintenance_runs (step, started_at, finished_at, ok, detail) VALUES ('offload', NOW(3), NOW(3), 0, 'dump verify failed')");
    const r = health('--oldest-ready-minutes', 'off', '--expired-leases', 'off', '--replica', 'mysql://root@127.0.0.1:1/replica');
    expect(r.code).to.equal(ExitCode.Findings);
    expect(r.stderr).to.equal('reminderly-db: health: 2 alarm(s): replica_down (mysql://root@127.0.0.1:1/replica), offload_failed (offload)\n');
    expect(health('--oldest-ready-minutes', 'off', '--expired-leases', 'off', '--offload-failed', 'false').code).to.equal(0);
  });

  it('exits 2 when the database cannot be reached or read (not 3: no alarm was judged), 1 for a mistake', async () => {
    const down = runCli(['health', '--url', 'mysql://root@127.0.0.1:1/nowhere']);
    expect(down.code).to.equal(2);
    expect(down.stderr).to.match(/^reminderly-db: health: cannot connect to mysql:\/\/root@127.0.0.1:1\/nowhere: .*\n$/);
    const empty = await createThrowawayDatabase('health_empty');
    try {
      const unmigrated = runCli(['health', '--url', empty.url]);
      expect(unmigrated.code).to.equal(2);
      expect(unmigrated.stderr).to.match(/^reminderly-db: health: could not read the server: ER_\w+ \(errno \d+, SQLSTATE \w{5}\): .*\n$/);
    } finally {
      await empty.drop();
    }
    for (const args of [['--window', '0m'], ['--expired-leases', 'many'], ['--json', '--prometheus']]) {
      const r = health(...args);
      expect(r.code, args.join(' ')).to.equal(1);
      expect(r.stderr.split('\n').length, r.stderr).to.equal(2);
    }
  });
});
