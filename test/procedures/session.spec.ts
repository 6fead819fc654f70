// The session routines as the owner calls them (test/users/tenant.spec.ts covers them through the
// real application, reporting and auth accounts): what session_issue keeps and removes, the order
// of the checks, and that a session routine returns exactly what its user-id routine does.
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import { Connection, queryRows } from '../../tools/sql/connection';
import { createCampaign, expectSignal, insertMessages, seedCompany, tableName, usePipelineDatabase, Company } from '../pipeline/helpers';

type Row = Record<string, unknown>;
const newToken = () => randomBytes(32).toString('hex');

describe('session routines', () => {
  const db = usePipelineDatabase('session');
  let conn: Connection;
  let company: Company;
  let campaign: number;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 5);
    campaign = await createCampaign(conn, company.companyId);
    await insertMessages(conn, campaign, { count: 4, packet: 1, contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 3, packet: 2, sendAfter: new Date(Date.UTC(2026, 0, 10)), contacts: company.contactIds });
  });
  after(async () => { await conn?.end(); });

  const sessions = async () => Number((await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM user_sessions'))[0].n);

  it('session_issue keeps live and recently expired sessions and removes those expired more than a day ago', async () => {
    const tokens = [newToken(), newToken(), newToken()];
    for (const token of tokens) await conn.query('CALL session_issue(?, ?, 3600)', [company.allowedUser, token]);
    await conn.query('UPDATE user_sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 2 DAY WHERE token_hash = session_token_hash(?)', [tokens[0]]);
    await conn.query('UPDATE user_sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 HOUR WHERE token_hash = session_token_hash(?)', [tokens[1]]);
    expect(await sessions()).to.equal(3);
    await conn.query('CALL session_issue(?, ?, 60)', [company.allowedUser, newToken()]);
    expect(await sessions(), 'the 2-day-old one is gone, the others and the new one stay').to.equal(3);
    const [stored] = await queryRows<{ hash: string }>(conn, 'SELECT token_hash AS hash FROM user_sessions WHERE token_hash = session_token_hash(?)', [tokens[2]]);
    expect(stored.hash).to.match(/^[0-9a-f]{64}$/).and.not.equal(tokens[2]);
  });

  it('checks the session before anything else, then the arguments; nothing is marked when a check fails', async () => {
    const token = newToken();
    await conn.query('CALL session_issue(?, ?, 3600)', [company.allowedUser, token]);
    await expectSignal(() => conn.query('CALL session_mark_ready(?, ?, NULL, NULL)', [newToken(), campaign]), /^session_mark_ready: access denied: no valid session/);
    await expectSignal(() => conn.query('CALL session_mark_ready(?, ?, NULL, NULL)', [token, campaign]), /^session_mark_ready: from and to must be given, from before to$/);
    await expectSignal(() => conn.query('CALL session_mark_packet_ready(?, ?, -1)', [token, campaign]), /^session_mark_packet_ready: packet must be between 0 and 4294967295, got -1$/);
    await expectSignal(() => conn.query('CALL session_mark_packet_ready(?, ?, 1)', [token, 987654321]), /^session_mark_packet_ready: /);
    const [{ ready }] = await queryRows<{ ready: number }>(conn, `SELECT COUNT(ready_at) AS ready FROM \`${await tableName(conn, campaign, 'messages')}\``);
    expect(Number(ready)).to.equal(0);
  });

  it('a session routine does what its user-id routine does, for the session\'s user', async () => {
    const token = newToken();
    await conn.query('CALL session_issue(?, ?, 3600)', [company.allowedUser, token]);
    const [packet] = await conn.query('CALL session_mark_packet_ready(?, ?, 1)', [token, campaign]) as unknown as [Row[][]];
    const [window] = await conn.query("CALL session_mark_ready(?, ?, '2026-01-01', '2026-02-01')", [token, campaign]) as unknown as [Row[][]];
    expect([Number(packet[0][0].marked), Number(window[0][0].marked), Number(window[0][0].scheduled)]).to.deep.equal([4, 3, 3]);
    const [viaSession] = await conn.query('CALL session_campaign_summary(?, ?)', [token, campaign]) as unknown as [Row[][]];
    const [viaUser] = await conn.query('CALL campaign_summary(?, ?)', [company.allowedUser, campaign]) as unknown as [Row[][]];
    const sets = (r: Row[][]) => JSON.stringify(r.filter(Array.isArray));
    expect(sets(viaSession)).to.equal(sets(viaUser));
    expect(Number((viaSession[1] as Row[])[0].messages)).to.equal(7);
  });
});
