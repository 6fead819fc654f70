import { expect } from 'chai';
import { spawnSync } from 'child_process';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { createCampaign, insertMessages, seedCompany, tableName, usePipelineDatabase } from './helpers';

describe('examples/worker.ts', function () {
  this.timeout(120_000);
  const db = usePipelineDatabase('example');
  let conn: Connection;
  before(async () => { conn = await db.connect(); });
  after(async () => { await conn?.end(); });

  it('claims by run type, sends with failures, completes, retries, and stops when nothing is ready', async () => {
    const company = await seedCompany(conn, 100);
    const campaign = await createCampaign(conn, company.companyId);
    await conn.query("UPDATE run_types SET retry_backoff_seconds = 0, max_attempts = 3 WHERE code = 'retry'");
    await insertMessages(conn, campaign, { count: 600, packet: 1, contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 200, packet: 1, sendAfter: new Date(Date.now() - 60_000), contacts: company.contactIds });
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, campaign]);
    const root = path.resolve(__dirname, '..', '..');
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(root, 'examples', 'worker.ts'),
      '--url', db.url, '--campaign', String(campaign), '--failure-rate', '0.3', '--workers', '3', '--batch', '50'], { cwd: root, encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/pass 1 immediate: 600 messages/).and.match(/pass 1 scheduled: 200 messages/).and.match(/retry: \d+ messages/)
      .and.match(/nothing ready: done/);
    const statuses = await queryRows<{ code: string; n: number }>(conn,
      `SELECT s.code, COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'message_contact_status')}\` c JOIN contact_statuses s ON s.id = c.status_id GROUP BY s.code ORDER BY s.code`);
    const byCode = Object.fromEntries(statuses.map((r) => [r.code, Number(r.n)]));
    expect(Object.keys(byCode)).to.deep.equal(['failed_permanently', 'sent']);
    expect(byCode.sent + byCode.failed_permanently).to.equal(800);
    // Failed three times at 30%: about 0.3^3 of 800, far below the first pass's failures.
    expect(byCode.failed_permanently).to.be.below(80);
    const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'ready_queue')}\``);
    expect(Number(n)).to.equal(0);
  });
});
