// Tenant isolation the database enforces, with the real accounts `users apply` makes: the
// application acts for an end user only through a session the auth account issued, so it cannot
// read or change another company's campaigns by naming a user id (tools/users/README.md,
// "Tenant isolation").
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { connect, Connection, queryRows } from '../../tools/sql/connection';
import { migrateUp } from '../../tools/migrate/migrator';
import { applyUsers } from '../../tools/users/apply';
import { accountsFor, Purpose } from '../../tools/users/accounts';
import { createCampaign, expectSignal, insertMessages, seedCompany, tableName, Company } from '../pipeline/helpers';
import { PROJECT_ROOT } from '../helpers/cli';
import { dropAccounts, dropStaleAccounts, expectDenied, passwordsFor, uniquePrefix, urlAs } from './helpers';

const newToken = () => randomBytes(32).toString('hex');

describe('tenant isolation: the application acts only for the user of a session the auth account issued', function () {
  this.timeout(300_000);
  let db: ThrowawayDatabase;
  const prefix = uniquePrefix();
  const accounts = accountsFor(prefix);
  const environment = passwordsFor(accounts);
  let root: Connection;
  const conns = new Map<Purpose, Connection>();
  const as = async (purpose: Purpose) => {
    if (!conns.has(purpose)) conns.set(purpose, await connect(urlAs(db, accounts.find((a) => a.purpose === purpose)!, environment)));
    return conns.get(purpose)!;
  };
  let a: Company;
  let b: Company;
  let campaignA: number;
  let campaignB: number;
  /** Sessions of company A's staff user and of company B's global administrator. */
  let tokenA: string;
  let tokenAdminB: string;

  /** Messages of a campaign: loaded, marked ready (in the queue). */
  const counts = async (campaignId: number) => {
    const [m] = await queryRows<{ total: number; ready: number }>(root,
      `SELECT COUNT(*) AS total, COUNT(ready_at) AS ready FROM \`${await tableName(root, campaignId, 'messages')}\``);
    const [q] = await queryRows<{ queued: number }>(root, `SELECT COUNT(*) AS queued FROM \`${await tableName(root, campaignId, 'ready_queue')}\``);
    return { total: Number(m.total), ready: Number(m.ready), queued: Number(q.queued) };
  };
  const issue = async (userId: number, token = newToken(), ttl = 3600) => {
    const [sets] = await (await as('auth')).query('CALL session_issue(?, ?, ?)', [userId, token, ttl]) as unknown as [Record<string, unknown>[][]];
    expect(Number(sets[0][0].user_id)).to.equal(userId);
    return token;
  };
  const overviewOf = async (conn: Connection, token: string, campaignId: number) => {
    const [sets] = await conn.query('CALL session_campaign_summary(?, ?)', [token, campaignId]) as unknown as [Record<string, unknown>[][]];
    return sets[1][0];
  };

  before(async () => {
    db = await createThrowawayDatabase('tenant');
    await dropStaleAccounts(db.serverUrl);
    root = await db.connect();
    const [binlog] = await queryRows<{ on: number; trusted: number }>(root,
      'SELECT @@global.log_bin AS `on`, @@global.log_bin_trust_function_creators AS trusted');
    const migratorSuper = Number(binlog.on) === 1 && Number(binlog.trusted) === 0;
    await applyUsers({ url: db.url, prefix, root: PROJECT_ROOT, environment, migratorSuper });
    const report = await migrateUp({ url: urlAs(db, accounts[0], environment), quiet: true });
    expect(report.ok, JSON.stringify(report.results.filter((r) => r.outcome === 'failed'))).to.equal(true);
    a = await seedCompany(root, 5);
    b = await seedCompany(root, 5);
    campaignA = await createCampaign(root, a.companyId, 'a');
    campaignB = await createCampaign(root, b.companyId, 'b');
    await insertMessages(root, campaignA, { count: 12, packet: 1, contacts: a.contactIds });
    await insertMessages(root, campaignB, { count: 9, packet: 1, contacts: b.contactIds });
    tokenA = await issue(a.allowedUser);
    tokenAdminB = await issue(b.globalUser);
  });

  after(async () => {
    for (const conn of conns.values()) await conn.end().catch(() => conn.destroy());
    await root?.end().catch(() => root.destroy());
    if (db) {
      await dropAccounts(db.serverUrl, accounts.map((x) => x.user));
      await db.drop();
    }
  });

  it('the application cannot name a user id: the user-id routines and session_issue are not granted to it or to reporting', async () => {
    const app = await as('application');
    const reporting = await as('reporting');
    // b.globalUser is a global administrator: naming it used to open every company.
    await expectDenied(app, 'CALL mark_packet_ready(?, ?, ?)', [b.globalUser, campaignB, 1]);
    await expectDenied(app, "CALL mark_ready(?, ?, '2000-01-01', '2100-01-01')", [b.globalUser, campaignB]);
    await expectDenied(app, 'CALL campaign_summary(?, ?)', [b.globalUser, campaignB]);
    await expectDenied(reporting, 'CALL campaign_summary(?, ?)', [b.globalUser, campaignB]);
    await expectDenied(app, 'CALL session_issue(?, ?, 3600)', [b.globalUser, newToken()]);
    await expectDenied(reporting, 'CALL session_issue(?, ?, 3600)', [b.globalUser, newToken()]);
    await expectDenied(app, 'CALL session_resolve(?, ?, @u)', ['x', tokenA]);
    await expectDenied(app, 'SELECT * FROM user_sessions');
    await expectDenied(app, 'INSERT INTO user_sessions (token_hash, user_id, issued_at, expires_at) VALUES (?, ?, NOW(), NOW())', ['0'.repeat(64), b.globalUser]);
    expect(await counts(campaignB)).to.deep.equal({ total: 9, ready: 0, queued: 0 });
  });

  it('with its user\'s session the application reads and changes its own company\'s campaign (the legitimate path)', async () => {
    const app = await as('application');
    const [marked] = await app.query('CALL session_mark_packet_ready(?, ?, 1)', [tokenA, campaignA]) as unknown as [Record<string, unknown>[][]];
    expect(Number(marked[0][0].marked)).to.equal(12);
    expect(await counts(campaignA)).to.deep.equal({ total: 12, ready: 12, queued: 12 });
    for (const conn of [app, await as('reporting')]) {
      const overview = await overviewOf(conn, tokenA, campaignA);
      expect([Number(overview.messages), Number(overview.pending), Number(overview.queued)]).to.deep.equal([12, 0, 12]);
    }
  });

  it('a session cannot reach another company: reads and changes of company B with company A\'s session are refused, B unchanged', async () => {
    const app = await as('application');
    const denied = new RegExp(`access denied: user ${a.allowedUser} may not see company ${b.companyId}`);
    await expectSignal(async () => (app).query('CALL session_mark_packet_ready(?, ?, 1)', [tokenA, campaignB]), denied);
    await expectSignal(async () => (app).query("CALL session_mark_ready(?, ?, '2000-01-01', '2100-01-01')", [tokenA, campaignB]), denied);
    await expectSignal(async () => (app).query('CALL session_campaign_summary(?, ?)', [tokenA, campaignB]), denied);
    await expectSignal(async () => (await as('reporting')).query('CALL session_campaign_summary(?, ?)', [tokenA, campaignB]), denied);
    expect(await counts(campaignB)).to.deep.equal({ total: 9, ready: 0, queued: 0 });
    // A user whose role does not list its own company gets nothing of it either.
    const outsider = await issue(b.deniedUser);
    await expectSignal(async () => (app).query('CALL session_mark_packet_ready(?, ?, 1)', [outsider, campaignB]), /access denied: user \d+ may not see company/);
    expect(await counts(campaignB)).to.deep.equal({ total: 9, ready: 0, queued: 0 });
    // What the role allows still works: B's global administrator marks B.
    const [marked] = await app.query('CALL session_mark_packet_ready(?, ?, 1)', [tokenAdminB, campaignB]) as unknown as [Record<string, unknown>[][]];
    expect(Number(marked[0][0].marked)).to.equal(9);
    expect(await counts(campaignB)).to.deep.equal({ total: 9, ready: 9, queued: 9 });
  });

  it('a made-up, malformed, expired or revoked token acts for nobody, and the message never shows the token', async () => {
    const app = await as('application');
    const noSession = /^session_campaign_summary: access denied: no valid session for this token \(unknown, expired or revoked\)$/;
    const madeUp = newToken();
    await expectSignal(async () => (app).query('CALL session_campaign_summary(?, ?)', [madeUp, campaignA]), noSession);
    await expectSignal(async () => (app).query('CALL session_campaign_summary(?, ?)', ['1', campaignA]), /session token must be 64 hexadecimal digits/);
    await expectSignal(async () => (app).query('CALL session_campaign_summary(?, ?)', [null, campaignA]), /session token must be 64 hexadecimal digits/);
    await expectSignal(async () => (app).query('CALL session_campaign_summary(?, ?)', [`${'z'.repeat(64)}`, campaignA]), /session token must be 64 hexadecimal digits/);

    const expiring = await issue(a.allowedUser);
    const [expired] = await root.query('UPDATE user_sessions SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE token_hash = session_token_hash(?)', [expiring]) as unknown as [{ affectedRows: number }];
    expect(expired.affectedRows).to.equal(1);
    await expectSignal(async () => (app).query('CALL session_campaign_summary(?, ?)', [expiring, campaignA]), noSession);

    const leaving = await issue(a.allowedUser);
    expect(Number((await overviewOf(app, leaving, campaignA)).messages)).to.equal(12);
    const [first] = await app.query('CALL session_revoke(?)', [leaving]) as unknown as [Record<string, unknown>[][]];
    const [second] = await app.query('CALL session_revoke(?)', [leaving]) as unknown as [Record<string, unknown>[][]];
    expect([Number(first[0][0].revoked), Number(second[0][0].revoked)]).to.deep.equal([1, 0]);
    let message = '';
    try {
      await app.query('CALL session_mark_packet_ready(?, ?, 1)', [leaving, campaignA]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.match(/^session_mark_packet_ready: access denied: no valid session/).and.not.include(leaving);
    // The same token in capitals is the same session (the bytes are hashed), so still revoked.
    await expectSignal(async () => (app).query('CALL session_campaign_summary(?, ?)', [leaving.toUpperCase(), campaignA]), noSession);
    const [{ n }] = await queryRows<{ n: number }>(root, 'SELECT COUNT(*) AS n FROM user_sessions');
    expect(Number(n), 'sessions issued: A, admin B, outsider, expiring, leaving').to.equal(5);
  });

  it('the auth account issues sessions only for users that exist, with a bounded lifetime, never twice for one token', async () => {
    const auth = await as('auth');
    await expectSignal(async () => (auth).query('CALL session_issue(?, ?, 3600)', [987654321, newToken()]), /session_issue: user_id 987654321 does not exist/);
    await expectSignal(async () => (auth).query('CALL session_issue(?, ?, 0)', [a.allowedUser, newToken()]), /ttl_seconds must be between 1 and 86400, got 0/);
    await expectSignal(async () => (auth).query('CALL session_issue(?, ?, 3600)', [b.globalUser, tokenA]), /this token is already in use/);
    await expectDenied(auth, 'CALL session_mark_packet_ready(?, ?, 1)', [tokenA, campaignA]);
    await expectDenied(auth, 'SELECT * FROM user_sessions');
    const [{ n }] = await queryRows<{ n: number }>(root, 'SELECT COUNT(*) AS n FROM user_sessions WHERE user_id = ?', [b.globalUser]);
    expect(Number(n), 'the refused reissue of A\'s token did not hand it to B\'s administrator').to.equal(1);
  });

  it('health_campaigns shows every company to the operators\' reporting account, and is not granted to the application', async () => {
    const [health] = await (await as('reporting')).query('CALL health_campaigns(NULL, 15)') as unknown as [Record<string, unknown>[][]];
    expect(health[0].map((r) => Number(r.campaign_id)).sort((x, y) => x - y)).to.deep.equal([campaignA, campaignB]);
    await expectDenied(await as('application'), 'CALL health_campaigns(NULL, 15)');
  });
});
