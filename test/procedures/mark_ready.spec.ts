import { expect } from 'chai';
import { Connection, queryRows } from '../../tools/sql/connection';
import { checksums, createCampaign, expectSignal, insertMessages, seedCompany, tableName, usePipelineDatabase, Company } from '../pipeline/helpers';

type Marked = { campaign_id: number; marked: number; immediate: number; scheduled: number };

describe('mark_packet_ready and mark_ready', () => {
  const db = usePipelineDatabase('markready');
  let conn: Connection;
  let company: Company;
  let campaign: number;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 20);
    campaign = await createCampaign(conn, company.companyId);
  });
  after(async () => { await conn?.end(); });

  const call = async (sql: string, args: unknown[]): Promise<Marked> => {
    const [result] = await conn.query(sql, args) as unknown as [[Marked[]]];
    const row = result[0][0];
    return { campaign_id: Number(row.campaign_id), marked: Number(row.marked), immediate: Number(row.immediate), scheduled: Number(row.scheduled) };
  };
  const queue = async () => queryRows<{ lane: string; n: number }>(conn,
    `SELECT r.code AS lane, COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'ready_queue')}\` q JOIN run_types r ON r.id = q.run_type_id GROUP BY r.code ORDER BY r.code`);

  it('marks a packet ready: immediate lane without send_after, scheduled lane with it; a second call marks nothing', async () => {
    await insertMessages(conn, campaign, { count: 3, packet: 1, contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 2, packet: 1, sendAfter: new Date('2030-01-01T00:00:00Z'), contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 4, packet: 2, contacts: company.contactIds });
    expect(await call('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 1])).to.deep.equal({ campaign_id: campaign, marked: 5, immediate: 3, scheduled: 2 });
    expect(await call('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 1])).to.deep.equal({ campaign_id: campaign, marked: 0, immediate: 0, scheduled: 0 });
    expect((await queue()).map((r) => [r.lane, Number(r.n)])).to.deep.equal([['immediate', 3], ['scheduled', 2]]);
    const [st] = await queryRows<{ ready: number; unready: number }>(conn,
      `SELECT SUM(ready_at IS NOT NULL) AS ready, SUM(ready_at IS NULL) AS unready FROM \`${await tableName(conn, campaign, 'messages')}\``);
    expect([Number(st.ready), Number(st.unready)]).to.deep.equal([5, 4]);
    const [mcs] = await queryRows<{ n: number }>(conn,
      `SELECT COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'message_contact_status')}\` c JOIN contact_statuses s ON s.id = c.status_id WHERE s.code = 'ready'`);
    expect(Number(mcs.n)).to.equal(5);
  });

  it('marks messages ready by send_after window, from inclusive, to exclusive', async () => {
    await insertMessages(conn, campaign, { count: 2, packet: 3, sendAfter: new Date('2031-06-01T10:00:00Z'), contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 1, packet: 3, sendAfter: new Date('2031-06-02T10:00:00Z'), contacts: company.contactIds });
    expect(await call('CALL mark_ready(?, ?, ?, ?)', [company.globalUser, campaign, '2031-06-01 10:00:00', '2031-06-02 10:00:00']))
      .to.deep.equal({ campaign_id: campaign, marked: 2, immediate: 0, scheduled: 2 });
    expect((await call('CALL mark_ready(?, ?, ?, ?)', [company.globalUser, campaign, '2031-06-01', '2031-06-03'])).marked).to.equal(1);
  });

  it('refuses bad arguments and other companies\' users, changing nothing', async () => {
    await insertMessages(conn, campaign, { count: 2, packet: 7, contacts: company.contactIds });
    const before = await checksums(conn, campaign);
    await expectSignal(() => conn.query('CALL mark_packet_ready(?, ?, ?)', [company.deniedUser, campaign, 7]), new RegExp(`^access denied: user ${company.deniedUser} may not see company ${company.companyId}`));
    await expectSignal(() => conn.query('CALL mark_packet_ready(?, ?, ?)', [987654321, campaign, 7]), /^access denied: user_id 987654321 does not exist/);
    await expectSignal(() => conn.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, 987654321, 7]), /^mark_packet_ready: campaign_id 987654321 does not exist/);
    await expectSignal(() => conn.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, -1]), /^mark_packet_ready: packet must be between 0 and 4294967295, got -1/);
    await expectSignal(() => conn.query('CALL mark_ready(?, ?, ?, ?)', [company.allowedUser, campaign, '2031-01-02', '2031-01-01']), /^mark_ready: from and to must be given, from before to/);
    await expectSignal(() => conn.query('CALL mark_ready(?, ?, ?, ?)', [company.allowedUser, campaign, null, '2031-01-01']), /^mark_ready: from and to must be given/);
    await conn.query('START TRANSACTION');
    try {
      await expectSignal(() => conn.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 7]), /^mark_packet_ready: must not be called inside an open transaction/);
    } finally {
      await conn.query('ROLLBACK');
    }
    expect(await checksums(conn, campaign)).to.deep.equal(before);
  });
});
