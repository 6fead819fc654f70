import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { expectSignal, sleep } from '../pipeline/helpers';
import {
  Company, counts, createCampaign, misplaced, NOTHING_MISPLACED, rowsOf, seedCompany, seedMessages, tableName, totals,
} from '../maintenance/helpers';
import { PROJECT_ROOT } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

type Row = Record<string, unknown>;

async function call(conn: Connection, sql: string, params: unknown[] = []): Promise<Row> {
  const [rows] = await conn.query(sql, params) as unknown as [Row[][]];
  return rows[0][0];
}

const move = (conn: Connection, campaignId: number, days: number, chunk: number, afterId: number | null = null, maxChunks: number | null = null) =>
  call(conn, 'CALL history_move(?, ?, ?, ?, ?)', [campaignId, days, chunk, afterId, maxChunks]);
const preview = (conn: Connection, campaignId: number, days: number) => call(conn, 'CALL history_move_preview(?, ?)', [campaignId, days]);

describe('history_move', () => {
  const db = useThrowawayDatabase({ label: 'histmove', migrated: true });
  let conn: Connection;
  let company: Company;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 40);
  });
  after(async () => { await conn?.end(); });

  it('moves exactly the finished, old messages with their status rows, updates and interactions, chunk by chunk', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'exact');
    const c = company.contactIds;
    const old = await seedMessages(conn, campaign, { count: 50, contacts: c, status: 'delivered', daysAgo: 40 });
    const recent = await seedMessages(conn, campaign, { count: 10, contacts: c, status: 'delivered', daysAgo: 1 });
    const notFinal = await seedMessages(conn, campaign, { count: 10, contacts: c, status: 'sent', daysAgo: 40 });
    const noStatus = await seedMessages(conn, campaign, { count: 10, contacts: c, status: null, daysAgo: 40 });
    // Two methods each: one final and one not (stays), or both final (moves).
    const mixed = await seedMessages(conn, campaign, { count: 5, contacts: c, status: 'delivered', daysAgo: 40 });
    const bothFinal = await seedMessages(conn, campaign, { count: 5, contacts: c, status: 'bounced', daysAgo: 40 });
    const mcs = await tableName(conn, campaign, 'message_contact_status');
    await conn.query(`INSERT INTO \`${mcs}\` (message_id, method_id, status_id, updated_at) SELECT id, 2, (SELECT id FROM contact_statuses WHERE code = 'sent'), NOW(3) - INTERVAL 40 DAY FROM \`${await tableName(conn, campaign, 'messages')}\` WHERE id IN (?)`, [mixed]);
    await conn.query(`INSERT INTO \`${mcs}\` (message_id, method_id, status_id, updated_at) SELECT id, 2, (SELECT id FROM contact_statuses WHERE code = 'opted_out'), NOW(3) - INTERVAL 35 DAY FROM \`${await tableName(conn, campaign, 'messages')}\` WHERE id IN (?)`, [bothFinal]);
    // A finished message still queued (e.g. opted out while waiting for a retry): its entry goes.
    const queued = await seedMessages(conn, campaign, { count: 3, contacts: c, status: 'opted_out', daysAgo: 40 });
    await conn.query(`INSERT INTO \`${await tableName(conn, campaign, 'ready_queue')}\` (run_type_id, visible_at, message_id) SELECT 3, NOW(3), id FROM \`${await tableName(conn, campaign, 'messages')}\` WHERE id IN (?)`, [queued]);
    await conn.query(`INSERT INTO \`${await tableName(conn, campaign, 'ready_queue')}\` (run_type_id, visible_at, message_id) SELECT 1, NOW(3), id FROM \`${await tableName(conn, campaign, 'messages')}\` WHERE id IN (?)`, [noStatus.slice(0, 4)]);

    const movable = [...old, ...bothFinal, ...queued].sort((a, b) => a - b);
    const staying = [...recent, ...notFinal, ...noStatus, ...mixed].sort((a, b) => a - b);
    const beforeRows: Record<string, unknown[]> = {};
    for (const kind of ['messages', 'message_contact_status', 'status_updates', 'interactions']) beforeRows[kind] = await rowsOf(conn, campaign, kind, movable);
    const beforeCounts = await counts(conn, campaign);

    const p = await preview(conn, campaign, 30);
    expect(p).to.include({ messages: 93, eligible: movable.length, unfinished: notFinal.length + noStatus.length + mixed.length, ready_queue: 3, history_messages: 0 });
    expect(p).to.include({ message_contact_status: beforeRows.message_contact_status.length, status_updates: beforeRows.status_updates.length, interactions: beforeRows.interactions.length });

    const result = await move(conn, campaign, 30, 7);
    expect(result).to.include({
      campaign_id: campaign, messages: movable.length, message_contact_status: beforeRows.message_contact_status.length,
      status_updates: beforeRows.status_updates.length, interactions: beforeRows.interactions.length, ready_queue: 3, done: 1,
    });
    expect(Number(result.chunks)).to.equal(Math.ceil(movable.length / 7));
    // The same rows, column for column, now in history; nothing else moved.
    for (const kind of Object.keys(beforeRows)) {
      expect(await rowsOf(conn, campaign, kind, movable, true), kind).to.deep.equal(beforeRows[kind]);
      expect(await rowsOf(conn, campaign, kind, movable), kind).to.deep.equal([]);
    }
    const hotIds = (await queryRows<{ id: number }>(conn, `SELECT id FROM \`${await tableName(conn, campaign, 'messages')}\` ORDER BY id`)).map((r) => Number(r.id));
    expect(hotIds).to.deep.equal(staying);
    const queue = await queryRows<{ message_id: number }>(conn, `SELECT message_id FROM \`${await tableName(conn, campaign, 'ready_queue')}\` ORDER BY message_id`);
    expect(queue.map((q) => Number(q.message_id)), 'unfinished messages keep their queue entries').to.deep.equal(noStatus.slice(0, 4));
    expect(totals(await counts(conn, campaign))).to.deep.equal(totals(beforeCounts));
    expect(await misplaced(conn, campaign)).to.deep.equal(NOTHING_MISPLACED);
    // Moved_at is filled by the twin's default.
    const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'messages_history')}\` WHERE moved_at > NOW(3) - INTERVAL 1 HOUR`);
    expect(Number(n)).to.equal(movable.length);

    const again = await move(conn, campaign, 30, 7);
    expect(again).to.include({ chunks: 0, messages: 0, done: 1 });
    expect(await preview(conn, campaign, 30)).to.include({ eligible: 0, history_messages: movable.length });
    // With 0 days the recent finished ones go too.
    expect(await move(conn, campaign, 0, 1000)).to.include({ messages: recent.length });
  });

  it('goes on from last_id in calls of max_chunks chunks, and agrees with the preview', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'steps');
    const ids = await seedMessages(conn, campaign, { count: 95, contacts: company.contactIds, status: 'failed_permanently', daysAgo: 31 });
    await seedMessages(conn, campaign, { count: 5, contacts: company.contactIds, status: 'queued', daysAgo: 31 });
    expect(await preview(conn, campaign, 30)).to.include({ eligible: 95 });
    const first = await move(conn, campaign, 30, 10, null, 3);
    expect(first).to.include({ chunks: 3, messages: 30, done: 0, last_id: ids[29] });
    let afterId = Number(first.last_id);
    let moved = 30;
    for (;;) {
      const next = await move(conn, campaign, 30, 10, afterId, 4);
      moved += Number(next.messages);
      afterId = Number(next.last_id);
      if (Number(next.done) === 1) break;
    }
    expect(moved).to.equal(95);
    expect(await preview(conn, campaign, 30)).to.include({ messages: 5, eligible: 0, unfinished: 5, history_messages: 95 });
  });

  it('refuses bad arguments, naming them, and changes nothing', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'args');
    await seedMessages(conn, campaign, { count: 5, contacts: company.contactIds, status: 'delivered', daysAgo: 40 });
    const before = await counts(conn, campaign);
    await expectSignal(() => move(conn, 987654, 30, 10), /^history_move: campaign_id 987654 does not exist/);
    await expectSignal(() => conn.query('CALL history_move(NULL, 30, 10, NULL, NULL)'), /^history_move: campaign_id must be given/);
    await expectSignal(() => move(conn, campaign, -1, 10), /^history_move: older_than_days must be 0 to 36500, got -1/);
    await expectSignal(() => conn.query('CALL history_move(?, NULL, 10, NULL, NULL)', [campaign]), /^history_move: older_than_days must be 0 to 36500, got NULL/);
    await expectSignal(() => move(conn, campaign, 30, 0), /^history_move: chunk must be 1 to 10000 messages, got 0/);
    await expectSignal(() => move(conn, campaign, 30, -5), /^history_move: chunk must be 1 to 10000 messages, got -5/);
    await expectSignal(() => move(conn, campaign, 30, 10001), /^history_move: chunk must be 1 to 10000 messages, got 10001/);
    await expectSignal(() => conn.query('CALL history_move(?, 30, NULL, NULL, NULL)', [campaign]), /^history_move: chunk must be 1 to 10000 messages, got NULL/);
    await expectSignal(() => move(conn, campaign, 30, 10, null, 0), /^history_move: max_chunks must be at least 1/);
    await expectSignal(() => preview(conn, campaign, -3), /^history_move_preview: older_than_days must be 0 to 36500, got -3/);
    const [noSet] = await conn.query("INSERT INTO campaigns (company_id, name, run_type_id) VALUES (?, 'no set', 1)", [company.companyId]) as unknown as [{ insertId: number }];
    await expectSignal(() => move(conn, noSet.insertId, 30, 10), new RegExp(`^history_move: campaign ${noSet.insertId} has no table set`));
    await conn.query('START TRANSACTION');
    try {
      await expectSignal(() => move(conn, campaign, 30, 10), /^history_move: must not be called inside an open transaction/);
    } finally {
      await conn.query('ROLLBACK');
    }
    const retired = await createCampaign(conn, company.companyId, 'retired');
    await conn.query('CALL campaign_set_drop(?)', [retired]);
    await expectSignal(() => move(conn, retired, 30, 10), new RegExp(`^history_move: campaign ${retired}: its table set is retired`));
    await expectSignal(() => preview(conn, retired, 30), new RegExp(`^history_move_preview: campaign ${retired}: its table set is retired`));
    expect(await counts(conn, campaign)).to.deep.equal(before);
  });

  it('refuses a set whose history twin lacks a column of the hot table, and a chunk whose id is already in history; nothing moves', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'guards');
    const ids = await seedMessages(conn, campaign, { count: 20, contacts: company.contactIds, status: 'delivered', daysAgo: 40 });
    const before = await counts(conn, campaign);
    const interactions = await tableName(conn, campaign, 'interactions');
    await conn.query(`ALTER TABLE \`${interactions}\` ADD COLUMN score INT NULL`);
    await expectSignal(() => move(conn, campaign, 30, 10), new RegExp(`^history_move: campaign ${campaign}: ${interactions}_history has no column score of interactions`));
    await conn.query(`ALTER TABLE \`${interactions}\` DROP COLUMN score`);
    expect(await counts(conn, campaign)).to.deep.equal(before);

    // A stray history row with the id of the 15th message: its chunk (11-20) fails whole, the first commits.
    const history = await tableName(conn, campaign, 'messages_history');
    await conn.query(`INSERT INTO \`${history}\` (id, campaign_id, company_id, contact_id, method_id, packet, created_at) VALUES (?, ?, ?, ?, 1, 0, NOW(3))`,
      [ids[14], campaign, company.companyId, company.contactIds[0]]);
    let failure: { errno?: number; sqlMessage?: string } | null = null;
    await move(conn, campaign, 30, 10).catch((e) => { failure = e; });
    expect(failure, 'the second chunk fails on the duplicate id').to.not.equal(null);
    expect(failure!.errno).to.equal(1062);
    const after = await counts(conn, campaign);
    expect(after.messages).to.deep.equal({ hot: 10, history: 11 });
    for (const kind of ['message_contact_status', 'status_updates', 'interactions']) {
      const firstChunk = (await rowsOf(conn, campaign, kind, ids.slice(0, 10), true)).length;
      expect(after[kind], kind).to.deep.equal({ hot: before[kind].hot - firstChunk, history: firstChunk });
    }
    // Once the stray row is gone, the rest moves.
    await conn.query(`DELETE FROM \`${history}\` WHERE id = ?`, [ids[14]]);
    expect(await move(conn, campaign, 30, 10)).to.include({ messages: 10, done: 1 });
    expect(totals(await counts(conn, campaign))).to.deep.equal(totals(before));
    expect(await misplaced(conn, campaign)).to.deep.equal(NOTHING_MISPLACED);
  });

  it('history_move_all moves every active set and reports the ones that failed after trying all', async () => {
    const a = await createCampaign(conn, company.companyId, 'all a');
    const b = await createCampaign(conn, company.companyId, 'all b');
    await seedMessages(conn, a, { count: 12, contacts: company.contactIds, status: 'delivered', daysAgo: 40 });
    await seedMessages(conn, b, { count: 8, contacts: company.contactIds, status: 'responded', daysAgo: 40 });
    const broken = await createCampaign(conn, company.companyId, 'all broken');
    await seedMessages(conn, broken, { count: 3, contacts: company.contactIds, status: 'delivered', daysAgo: 40 });
    await conn.query(`ALTER TABLE \`${await tableName(conn, broken, 'messages')}\` ADD COLUMN extra INT NULL`);
    await expectSignal(() => conn.query('CALL history_move_all(30, 5)'), new RegExp(`^history_move_all: \\d+ set\\(s\\) failed, first: history_move: campaign ${broken}: `));
    expect((await counts(conn, a)).messages).to.deep.equal({ hot: 0, history: 12 });
    expect((await counts(conn, b)).messages).to.deep.equal({ hot: 0, history: 8 });
    expect((await counts(conn, broken)).messages).to.deep.equal({ hot: 3, history: 0 });
    await conn.query(`ALTER TABLE \`${await tableName(conn, broken, 'messages')}\` DROP COLUMN extra`);
    await expectSignal(() => conn.query('CALL history_move_all(-1, 5)'), /^history_move_all: older_than_days must be 0 to 36500/);
  });

  it('the maintenance README\'s CREATE EVENT is accepted, and where the event scheduler runs, moves the rows', async function () {
    const readme = fs.readFileSync(path.join(PROJECT_ROOT, 'tools', 'maintenance', 'README.md'), 'utf8');
    const sql = /```sql\n(CREATE EVENT[\s\S]*?)\n```/.exec(readme)?.[1];
    expect(sql, 'tools/maintenance/README.md has a ```sql block with CREATE EVENT').to.be.a('string');
    const campaign = await createCampaign(conn, company.companyId, 'event');
    await seedMessages(conn, campaign, { count: 10, contacts: company.contactIds, status: 'delivered', daysAgo: 40 });
    await conn.query(sql!.replace(/;\s*$/, ''));
    const [ev] = await queryRows<{ name: string }>(conn, "SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()");
    expect(ev.name).to.equal('reminderly_history_move');
    const [{ scheduler }] = await queryRows<{ scheduler: string }>(conn, 'SELECT @@global.event_scheduler AS scheduler');
    if (scheduler !== 'ON') {
      // The server's scheduler is off (MariaDB's default): the event is there; what it calls is tested above.
      await conn.query('DROP EVENT reminderly_history_move');
      return;
    }
    await conn.query('ALTER EVENT reminderly_history_move ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 SECOND');
    for (let i = 0; i < 100 && (await counts(conn, campaign)).messages.history < 10; i++) await sleep(100);
    expect((await counts(conn, campaign)).messages).to.deep.equal({ hot: 0, history: 10 });
  });

  it('a connection killed in the middle of a chunk leaves every row in exactly one place; a rerun completes', async function () {
    this.timeout(120_000);
    const campaign = await createCampaign(conn, company.companyId, 'killed');
    await seedMessages(conn, campaign, { count: 6000, contacts: company.contactIds, status: 'delivered', daysAgo: 40 });
    await seedMessages(conn, campaign, { count: 500, contacts: company.contactIds, status: 'sent', daysAgo: 40 });
    const before = await counts(conn, campaign);
    const mover = await db.connect();
    try {
      const [{ id }] = await queryRows<{ id: number }>(mover, 'SELECT CONNECTION_ID() AS id');
      const running = move(mover, campaign, 30, 1000).then(() => 'finished', (e: Error) => `failed: ${e.message}`);
      // Kill once some chunks have committed and the current one has begun changing rows: MySQL
      // lists the open transaction in INNODB_TRX; MariaDB shows the routine's current statement.
      const historyTable = await tableName(conn, campaign, 'messages_history');
      let killedMidChunk = false;
      for (let i = 0; i < 5000 && !killedMidChunk; i++) {
        // Light probes, spaced: a tight loop of COUNT(*) and catalogue reads slowed MySQL's chunks tenfold.
        await sleep(10);
        const [thousandth] = await queryRows(conn, `SELECT id FROM \`${historyTable}\` ORDER BY id LIMIT 1 OFFSET 999`);
        if (!thousandth) continue;
        const [trx] = await queryRows<{ modified: number }>(conn,
          'SELECT trx_rows_modified AS modified FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?', [id]);
        const [proc] = await queryRows<{ info: string | null }>(conn, 'SELECT INFO AS info FROM information_schema.PROCESSLIST WHERE ID = ?', [id]);
        if ((trx && Number(trx.modified) > 0) || /^(INSERT INTO `campaign_\d+_\w+_history`|DELETE x FROM)/.test(proc?.info ?? '')) {
          await conn.query(`KILL CONNECTION ${Number(id)}`);
          killedMidChunk = true;
        }
      }
      expect(killedMidChunk, 'the move was caught inside a chunk').to.equal(true);
      expect(await running).to.match(/^failed/);
    } finally {
      mover.destroy();
    }
    const after = await counts(conn, campaign);
    expect(after.messages.history).to.be.greaterThan(0).and.lessThan(6000);
    expect(after.messages.history % 1000, 'only whole chunks committed').to.equal(0);
    expect(totals(after)).to.deep.equal(totals(before));
    expect(await misplaced(conn, campaign)).to.deep.equal(NOTHING_MISPLACED);

    const rerun = await move(conn, campaign, 30, 5000);
    expect(Number(rerun.messages)).to.equal(6000 - after.messages.history);
    const done = await counts(conn, campaign);
    expect(done.messages).to.deep.equal({ hot: 500, history: 6000 });
    expect(totals(done)).to.deep.equal(totals(before));
    expect(await misplaced(conn, campaign)).to.deep.equal(NOTHING_MISPLACED);
  });
});
