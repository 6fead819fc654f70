import { expect } from 'chai';
import { Connection } from '../../tools/sql/connection';
import { parseDays, runHistoryMoves } from '../../tools/maintenance/history';
import { UserError } from '../../tools/errors';
import { checksums } from '../pipeline/helpers';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { Company, counts, createCampaign, misplaced, NOTHING_MISPLACED, seedCompany, seedMessages, tableName, totals } from './helpers';
import { queryRows } from '../../tools/sql/connection';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('maintenance history', () => {
  const db = useThrowawayDatabase({ label: 'mhistory', migrated: true });
  let conn: Connection;
  let company: Company;
  let a: number;
  let b: number;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 30);
    a = await createCampaign(conn, company.companyId, 'history a');
    b = await createCampaign(conn, company.companyId, 'history b');
    await seedMessages(conn, a, { count: 6000, contacts: company.contactIds, status: 'delivered', daysAgo: 45 });
    await seedMessages(conn, a, { count: 40, contacts: company.contactIds, status: 'sent', daysAgo: 45 });
    await seedMessages(conn, b, { count: 30, contacts: company.contactIds, status: 'bounced', daysAgo: 31 });
    await seedMessages(conn, b, { count: 20, contacts: company.contactIds, status: 'opened', daysAgo: 2 });
  });
  after(async () => { await conn?.end(); });

  it('--dry-run counts what would move and changes nothing', async () => {
    const before = { a: await checksums(conn, a), b: await checksums(conn, b) };
    const dry = runCli(['maintenance', 'history', '--all', '--older-than', '30d', '--dry-run', '--json', '--url', db.url]);
    expect(dry.code, dry.stderr).to.equal(0);
    const results = JSON.parse(dry.stdout) as { campaignId: number; outcome: string; preview: Record<string, number> }[];
    expect(results.map((r) => [r.campaignId, r.outcome, r.preview.eligible, r.preview.unfinished])).to.deep.equal([
      [a, 'dry-run', 6000, 40], [b, 'dry-run', 30, 0],
    ]);
    expect(results[0].preview).to.include({ messageContactStatus: 6000, statusUpdates: 12000, interactions: 2000 });
    expect({ a: await checksums(conn, a), b: await checksums(conn, b) }).to.deep.equal(before);
  });

  it('a run killed (SIGKILL) while it moves loses and doubles nothing; the rerun finishes, with progress and counts', async () => {
    const before = { a: await counts(conn, a), b: await counts(conn, b) };
    const history = await tableName(conn, a, 'messages_history');
    const run = runCliAsync(['maintenance', 'history', '--campaign', String(a), '--older-than', '30d', '--chunk', '100', '--url', db.url]);
    await waitFor(async () => (await queryRows(conn, `SELECT id FROM \`${history}\` LIMIT 1 OFFSET 199`)).length > 0, 60_000, 'some chunks to be moved');
    run.child.kill('SIGKILL');
    await run.done;
    // The server goes on with the call the killed client sent, chunk by chunk; at any instant
    // (the counts are read in one snapshot) every row is in exactly one place.
    const mid = await counts(conn, a);
    expect(totals(mid)).to.deep.equal(totals(before.a));
    expect(await misplaced(conn, a)).to.deep.equal(NOTHING_MISPLACED);

    const rerun = runCli(['maintenance', 'history', '--all', '--older-than', '30d', '--chunk', '500', '--url', db.url]);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(rerun.stderr).to.match(/moving finished messages to history: \d+\/\d+ messages in [\d.]+ s — \d+ messages moved from [12] set\(s\)/);
    // The killed client's last call may have finished on the server after the kill: then nothing is left for a.
    expect(rerun.stdout).to.match(new RegExp(`campaign ${a}: (\\d+ messages moved to history|nothing old and finished to move)`));
    expect(rerun.stdout).to.contain(`campaign ${b}: 30 messages moved to history in 1 chunk(s) (30 status rows, 60 status updates, 10 interactions, 0 queue entries)`);
    const after = { a: await counts(conn, a), b: await counts(conn, b) };
    expect(after.a.messages).to.deep.equal({ hot: 40, history: 6000 });
    expect(after.b.messages).to.deep.equal({ hot: 20, history: 30 });
    expect(totals(after.a)).to.deep.equal(totals(before.a));
    expect(totals(after.b)).to.deep.equal(totals(before.b));
    expect(await misplaced(conn, a)).to.deep.equal(NOTHING_MISPLACED);
    expect(await misplaced(conn, b)).to.deep.equal(NOTHING_MISPLACED);
  });

  it('refuses bad arguments with a one-line reason', async () => {
    const both = runCli(['maintenance', 'history', '--campaign', String(a), '--all', '--older-than', '30d', '--url', db.url]);
    expect(both.code).to.equal(1);
    expect(both.stderr).to.contain('exactly one of --campaign <id> or --all');
    expect(() => parseDays('12h')).to.throw(UserError, /whole days/);
    let error: unknown;
    await runHistoryMoves(conn, { campaignIds: [987654], olderThanDays: 30 }).catch((e) => { error = e; });
    expect(error).to.be.instanceOf(UserError);
    expect((error as Error).message).to.equal('history_move_preview: campaign_id 987654 does not exist');
  });
});
