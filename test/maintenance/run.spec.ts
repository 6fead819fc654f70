import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { rotatedLogTables } from '../../tools/maintenance/log-tables';
import { historyTables } from '../../tools/maintenance/history-offload';
import { runCli } from '../helpers/cli';
import { counts, createCampaign, seedCompany, seedMessages } from './helpers';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('maintenance run', () => {
  const db = useThrowawayDatabase({ label: 'mrun', migrated: true });
  let conn: Connection;
  let out: string;
  let campaign: number;
  before(async () => {
    conn = await db.connect();
    const company = await seedCompany(conn, 20);
    campaign = await createCampaign(conn, company.companyId, 'run');
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-run-'));
  });
  after(async () => {
    await conn?.end();
    fs.rmSync(out, { recursive: true, force: true });
  });

  const logRows = async (n: number, daysAgo: number) => {
    await conn.query(`INSERT INTO log_events (logged_at, level, source, message)
      SELECT NOW(3) - INTERVAL ? DAY, 'info', 'test', CONCAT('event ', seq) FROM
        (SELECT a.n * 10 + b.n AS seq FROM (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
                (SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b) s
      WHERE seq < ?`, [daysAgo, n]);
  };

  it('moves history, rotates and offloads in one run with one summary; a failing step makes it exit non-zero, the others still run', async () => {
    await seedMessages(conn, campaign, { count: 120, contacts: (await queryRows<{ id: number }>(conn, 'SELECT id FROM contacts')).map((r) => Number(r.id)), status: 'delivered', daysAgo: 40 });
    await logRows(60, 40);
    const run = runCli(['maintenance', 'run', '--older-than', '30d', '--out', out, '--json', '--url', db.url]);
    expect(run.code, run.stderr).to.equal(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).to.include({ ok: true, olderThanDays: 30 });
    expect(summary.failures).to.deep.equal([]);
    expect(summary.history).to.include({ outcome: 'ok', messagesMoved: 120, setsFailed: 0 });
    expect(summary.rotation.outcome).to.equal('ok');
    expect(summary.rotation.results.find((r: { table: string }) => r.table === 'log_events')).to.include({ rows: 60 });
    expect(summary.offload).to.include({ outcome: 'ok', tablesOffloaded: 1, rowsOffloaded: 60, tablesFailed: 0, historyRowsOffloaded: 0 });
    // Each step, and the run, recorded its outcome for health.
    const recorded = await queryRows<{ step: string; ok: number; finished: Date | null }>(conn,
      'SELECT step, ok, finished_at AS finished FROM maintenance_runs ORDER BY id');
    expect(recorded.map((r) => [r.step, Number(r.ok), r.finished instanceof Date])).to.deep.equal([
      ['run', 1, true], ['history', 1, true], ['rotate-logs', 1, true], ['offload', 1, true]]);
    expect((await counts(conn, campaign)).messages).to.deep.equal({ hot: 0, history: 120 });
    expect(await rotatedLogTables(conn)).to.deep.equal([]);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.sql.gz'))).to.have.length(1);

    // Next night: the output folder is gone bad. That is an input checked before anything is done:
    // one line, exit 1, nothing moved and nothing recorded.
    await seedMessages(conn, campaign, { count: 10, contacts: (await queryRows<{ id: number }>(conn, 'SELECT id FROM contacts')).map((r) => Number(r.id)), status: 'bounced', daysAgo: 40 });
    await logRows(5, 40);
    const notAFolder = path.join(out, 'file');
    fs.writeFileSync(notAFolder, 'x');
    const runsBefore = (await queryRows(conn, 'SELECT id FROM maintenance_runs')).length;
    const refused = runCli(['maintenance', 'run', '--older-than', '30d', '--out', path.join(notAFolder, 'sub'), '--url', db.url]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(/^reminderly-db: --out \S+: \S+file is not a folder\n$/);
    expect((await counts(conn, campaign)).messages).to.deep.equal({ hot: 10, history: 120 });
    expect((await queryRows(conn, 'SELECT id FROM maintenance_runs')).length).to.equal(runsBefore);

    // The dump tool is gone instead: history and rotation still happen; the exit says offload failed.
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-path-'));
    fs.symlinkSync(process.execPath, path.join(bare, 'node'));
    const failing = runCli(['maintenance', 'run', '--older-than', '30d', '--out', out, '--url', db.url], { PATH: bare });
    fs.rmSync(bare, { recursive: true, force: true });
    expect(failing.code).to.equal(2);
    expect(failing.stdout).to.match(/^history: \d+ set\(s\) looked at, 10 messages moved$/m);
    expect(failing.stdout).to.match(/^rotate-logs: 1 table\(s\) rotated \(log_events -> log_events__\d{8}_\d{8}_\d{20}, 5 rows\)$/m);
    expect(failing.stdout).to.match(/^offload: 0 table\(s\), 0 rows offloaded, verified and dropped; 0 history rows from 0 table\(s\) offloaded, verified and deleted, 1 FAILED \(nothing of them dropped or deleted\)$/m);
    expect(failing.stdout).to.match(/^  FAILED offload: log_events__\d{8}_\d{8}_\d{20}: preflight failed: /m);
    expect(failing.stdout).to.match(/^maintenance run: FAILED \(1 problem\(s\)\); first: offload: log_events__\d{8}_\d{8}_\d{20}: preflight failed/m);
    expect(failing.stderr).to.contain('reminderly-db: maintenance run: 1 problem(s)');
    expect((await counts(conn, campaign)).messages).to.deep.equal({ hot: 0, history: 130 });
    const latest = await queryRows<{ step: string; ok: number; detail: string }>(conn,
      'SELECT step, ok, detail FROM maintenance_runs WHERE id > 4 ORDER BY id');
    expect(latest.map((r) => [r.step, Number(r.ok)])).to.deep.equal([['run', 0], ['history', 1], ['rotate-logs', 1], ['offload', 0]]);
    expect(latest[3].detail).to.match(/1 FAILED, first: log_events__\d{8}_\d{8}_\d{20}: preflight failed/);
    expect(latest[0].detail).to.match(/^1 problem\(s\); first: offload: log_events__/);
    const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${(await rotatedLogTables(conn))[0].table}\``);
    expect(Number(n), 'the rotated table is still there, whole').to.equal(5);

    // A month later: the history rows are old enough to offload too, in the same run.
    for (const t of await historyTables(conn)) await conn.query(`UPDATE \`${t}\` SET moved_at = moved_at - INTERVAL 40 DAY`);
    const later = runCli(['maintenance', 'run', '--older-than', '30d', '--out', out, '--json', '--url', db.url]);
    expect(later.code, later.stdout + later.stderr).to.equal(0);
    const laterSummary = JSON.parse(later.stdout);
    // 130 messages, 130 status rows, 260 status updates, 43 interactions (every third message).
    expect(laterSummary.offload).to.include({ outcome: 'ok', tablesOffloaded: 1, rowsOffloaded: 5, historyTablesOffloaded: 4, historyRowsOffloaded: 563 });
    expect((await counts(conn, campaign)).messages).to.deep.equal({ hot: 0, history: 0 });
  });
});
