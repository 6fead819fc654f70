import { expect } from 'chai';
import { Connection, queryRows } from '../../tools/sql/connection';
import { claimBatch, completeBatch } from '../helpers/routine-calls';
import { waitFor } from '../helpers/cli';
import { checksums, createCampaign, expectSignal, insertMessages, seedCompany, tableName, usePipelineDatabase, Company } from '../pipeline/helpers';

describe('add_status_update', () => {
  const db = usePipelineDatabase('statusupdate');
  let conn: Connection;
  let company: Company;
  let campaign: number;
  let sent: number[];
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 10);
    campaign = await createCampaign(conn, company.companyId);
    await insertMessages(conn, campaign, { count: 3, packet: 1, contacts: company.contactIds });
    await insertMessages(conn, campaign, { count: 1, packet: 2, contacts: company.contactIds });
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, campaign]);
    const claim = await claimBatch(conn, { campaignId: campaign, runType: 'immediate', worker: 'w', maxRows: 10, leaseSeconds: 60 });
    sent = claim.messages.map((m) => m.messageId);
    await completeBatch(conn, claim.batch!.batchId, sent.map((id) => ({ message_id: id, status: 'sent', provider_ref: `p${id}` })));
  });
  after(async () => { await conn?.end(); });

  const add = async (...args: unknown[]) => {
    const [result] = await conn.query('CALL add_status_update(?, ?, ?, ?, ?, ?)', args) as unknown as [[{ status_update_id: number; interaction_id: number | null }[]]];
    return result[0][0];
  };
  const history = async (id: number) => (await queryRows<{ code: string; provider_ref: string }>(conn,
    `SELECT s.code, u.provider_ref FROM \`${await tableName(conn, campaign, 'status_updates')}\` u JOIN contact_statuses s ON s.id = u.status_id WHERE u.message_id = ? ORDER BY u.id`, [id]))
    .map((r) => `${r.code}:${r.provider_ref}`);
  const current = async (id: number) => (await queryRows<{ code: string }>(conn,
    `SELECT s.code FROM \`${await tableName(conn, campaign, 'message_contact_status')}\` c JOIN contact_statuses s ON s.id = c.status_id WHERE c.message_id = ?`, [id]))[0].code;

  it('appends callbacks (never rewrites), moves the current status, and records responses as interactions', async () => {
    const [a, b] = sent;
    const delivered = await add(campaign, a, 'email', 'delivered', `p${a}`, null);
    expect(delivered.interaction_id).to.equal(null);
    await add(campaign, a, 'email', 'opened', `p${a}`, null);
    const responded = await add(campaign, a, 'email', 'responded', `p${a}`, 'rated 5 stars');
    expect(Number(responded.interaction_id)).to.be.greaterThan(0);
    expect(await history(a)).to.deep.equal([`sent:p${a}`, `delivered:p${a}`, `opened:p${a}`, `responded:p${a}`]);
    expect(await current(a)).to.equal('responded');
    const interactions = await queryRows<{ contact_id: number; kind: string; detail: string }>(conn,
      `SELECT contact_id, kind, detail FROM \`${await tableName(conn, campaign, 'interactions')}\` WHERE message_id = ?`, [a]);
    expect(interactions.map((i) => [i.kind, i.detail])).to.deep.equal([['responded', 'rated 5 stars']]);
    await add(campaign, b, 'email', 'bounced', null, 'mailbox unknown');
    expect(await current(b)).to.equal('bounced');
  });

  it('refuses bad arguments, changing nothing', async () => {
    const [a] = sent;
    const before = await checksums(conn, campaign);
    const unsentId = (await queryRows<{ id: number }>(conn, `SELECT MAX(id) AS id FROM \`${await tableName(conn, campaign, 'messages')}\``))[0].id;
    await expectSignal(() => add(987654321, a, 'email', 'delivered', null, null), /^add_status_update: campaign_id 987654321 does not exist/);
    await expectSignal(() => add(campaign, 987654321, 'email', 'delivered', null, null), new RegExp(`^add_status_update: message_id 987654321 is not in campaign ${campaign}`));
    await expectSignal(() => add(campaign, a, 'pigeon', 'delivered', null, null), /^add_status_update: unknown method "pigeon"/);
    await expectSignal(() => add(campaign, a, 'email', 'vanished', null, null), /^add_status_update: unknown status "vanished"/);
    await expectSignal(() => add(campaign, a, 'email', 'ready', null, null), /^add_status_update: unknown status "ready"/);
    await expectSignal(() => add(campaign, a, 'sms', 'delivered', null, null), new RegExp(`^add_status_update: message ${a} was never sent by sms`));
    await expectSignal(() => add(campaign, unsentId, 'email', 'delivered', null, null), new RegExp(`^add_status_update: message ${unsentId} was never sent by email`));
    await expectSignal(() => add(campaign, a, 'email', 'delivered', 'x'.repeat(201), null), /^add_status_update: provider_ref over 200/);
    await expectSignal(() => add(campaign, null, 'email', 'delivered', null, null), /^add_status_update: message_id must be given/);
    expect(await checksums(conn, campaign)).to.deep.equal(before);
  });

  it('racing a history move that deletes the message: the documented refusal, not foreign-key error 1452', async () => {
    const c = sent[2];
    const mover = await db.connect();
    const caller = await db.connect();
    try {
      // What history_move does to one message, held open: lock it, delete its rows, not yet committed.
      await mover.query('START TRANSACTION');
      await mover.query(`SELECT id FROM \`${await tableName(conn, campaign, 'messages')}\` WHERE id = ? FOR UPDATE`, [c]);
      for (const kind of ['interactions', 'status_updates', 'message_contact_status', 'ready_queue', 'messages']) {
        await mover.query(`DELETE FROM \`${await tableName(conn, campaign, kind)}\` WHERE ${kind === 'messages' ? 'id' : 'message_id'} = ?`, [c]);
      }
      // The call passes its check (the row is still committed) and waits on the row lock in its insert.
      const call = caller.query('CALL add_status_update(?, ?, ?, ?, ?, ?)', [campaign, c, 'email', 'delivered', null, null]).then(() => null, (e: Error) => e);
      // INNODB_TRX shows the wait as LOCK WAIT; under load MariaDB was seen to keep the statement in
      // PROCESSLIST state "Update" (its insert, blocked on the row) without listing the wait: either counts.
      await waitFor(async () => (await queryRows<{ n: number }>(conn,
        "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id = ?", [caller.threadId]))[0].n > 0
        || (await queryRows<{ s: string | null }>(conn, 'SELECT STATE AS s FROM information_schema.PROCESSLIST WHERE ID = ?', [caller.threadId]))
          .some((r) => /^update$/i.test(r.s ?? '')),
      30_000, 'add_status_update to wait for the moved message').catch(async (e: Error) => {
        const [state] = await queryRows<{ STATE: string }>(conn, 'SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = ?', [caller.threadId]);
        throw new Error(`${e.message}; the call is in state "${state?.STATE}"`);
      });
      await mover.query('COMMIT');
      const err = await call as (Error & { errno?: number; sqlState?: string }) | null;
      expect(err, 'add_status_update succeeded').to.not.equal(null);
      expect({ errno: err!.errno, sqlState: err!.sqlState, message: err!.message }).to.deep.equal({
        errno: 1644, sqlState: '45000', message: `add_status_update: message_id ${c} is not in campaign ${campaign} (moved to history)`,
      });
      const [row] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'status_updates')}\` WHERE message_id = ?`, [c]);
      expect(Number(row.n)).to.equal(0);
    } finally {
      await mover.end();
      await caller.end();
    }
  });
});
