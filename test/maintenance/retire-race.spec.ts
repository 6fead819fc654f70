// `campaign retire` racing the application (issue 15, part 2): retire freezes the set (state
// 'retiring', refused by every routine that writes to or claims from it) before its last
// checksum, and waits for the transactions already inside the set. Here the application writes
// with add_status_update before, during and after the retire, a call is caught inside its
// transaction when the freeze comes, the freeze's wait runs out, a retire is killed, resumed,
// cancelled, and fails after the freeze. Every write the routine acknowledged must be in the
// dump; every other call must have got the documented refusal.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { randomBytes } from 'crypto';
import { createThrowawayDatabase } from '../../tools/harness/database';
import { Connection, queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { restoreDump } from '../../tools/maintenance/dump';
import { tableChecksum } from '../../tools/maintenance/checksum';
import { RETIRING_REFUSAL, retireCampaignSet, RetireStep, RetireStepError } from '../../tools/maintenance/retire';
import { tableKinds } from '../../tools/campaigns/sets';
import { loadMessages } from '../../tools/pipeline/loader';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { usePipelineDatabase } from '../pipeline/helpers';
import { Company, createCampaign, seedCompany, seedMessages, tableName } from './helpers';

const SETS = Number(process.env.REMINDERLY_RACE_SETS ?? 4);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Call {
  tag: string;
  /** ms since the verification finished (negative: before). */
  at: number;
  outcome: 'acknowledged' | 'refused';
  message?: string;
}

describe('campaign retire racing the application', () => {
  const db = usePipelineDatabase('retire_race');
  let conn: Connection;
  /** Looks at the server while conn is busy retiring. */
  let observer: Connection;
  let company: Company;
  let out: string;
  before(async () => {
    conn = await db.connect();
    observer = await db.connect();
    company = await seedCompany(conn, 20);
  });
  after(async () => { await conn?.end(); await observer?.end(); });
  beforeEach(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-retire-race-')); });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  /** A set whose messages all went out by email and are final (delivered). */
  async function finishedSet(name: string): Promise<{ id: number; messages: number[] }> {
    const id = await createCampaign(conn, company.companyId, name);
    const messages = await seedMessages(conn, id, { count: 200, contacts: company.contactIds, status: 'delivered', daysAgo: 2 });
    return { id, messages };
  }
  const setState = async (id: number) =>
    (await queryRows<{ state: string }>(conn, 'SELECT state FROM campaign_sets WHERE campaign_id = ?', [id]))[0].state;
  const refusal = (routine: string, id: number) =>
    new RegExp(`^${routine}: campaign ${id}: its table set is (being retired; nothing was changed|retired)$`);
  const statusUpdate = (c: Connection, id: number, message: number, tag: string) =>
    c.query('CALL add_status_update(?, ?, ?, ?, ?, ?)', [id, message, 'email', 'opened', tag, null]);

  /** The provider_ref of every status update in a set's dump, restored into a scratch database of its own. */
  async function refsInDump(id: number): Promise<string[]> {
    const scratch = await createThrowawayDatabase('racedump', db.serverUrl);
    try {
      await restoreDump(await detectServer(conn), db.url, scratch.name, path.join(out, `campaign_${id}.sql.gz`));
      const table = await tableName(conn, id, 'status_updates');
      return await withConnection(scratch.url, async (c) =>
        (await queryRows<{ ref: string }>(c, `SELECT provider_ref AS ref FROM \`${table}\``)).map((r) => r.ref));
    } finally {
      await scratch.drop();
    }
  }

  async function setChecksums(id: number): Promise<Record<string, { rows: number; checksum: string }>> {
    const result: Record<string, { rows: number; checksum: string }> = {};
    for (const kind of await tableKinds(conn)) {
      const table = await tableName(conn, id, kind);
      const [exists] = await queryRows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
      if (exists) result[table] = await tableChecksum(conn, db.name, table);
    }
    return result;
  }

  /**
   * Whether the session with this connection id waits for a row lock now (asked on a connection of
   * its own). Slowly: InnoDB refreshes what INNODB_TRX shows only when it was not read for 100 ms,
   * so polling it faster than that reads the same stale copy for ever (MariaDB).
   */
  async function waitsForLock(threadId: number): Promise<boolean> {
    await sleep(200);
    const rows = await queryRows(observer, "SELECT 1 FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'", [threadId]);
    return rows.length > 0;
  }
  const threadOf = async (c: Connection) => Number((await queryRows<{ id: number }>(c, 'SELECT CONNECTION_ID() AS id'))[0].id);

  it(`${SETS} sets: add_status_update every 10 ms before the freeze and from 0 to 200 ms after the verification; every acknowledged write is in the dump`, async () => {
    const totals = { acknowledged: 0, refusedBeforeVerify: 0, afterVerify: 0, inDumps: 0 };
    for (let n = 0; n < SETS; n++) {
      const { id, messages } = await finishedSet(`race ${n}`);
      const writer = await db.connect();
      const calls: Call[] = [];
      let verifiedAt: number | null = null;
      let stop = false;
      const call = async (tag: string, message: number) => {
        const at = Date.now();
        try {
          await statusUpdate(writer, id, message, tag);
          calls.push({ tag, at, outcome: 'acknowledged' });
        } catch (err) {
          calls.push({ tag, at, outcome: 'refused', message: (err as { sqlMessage?: string }).sqlMessage ?? (err as Error).message });
        }
      };
      const steps: RetireStep[] = [];
      let afterVerify: Promise<unknown> = Promise.resolve();
      let writing: Promise<void> = Promise.resolve();
      try {
        // The application writes all along, until the verification ...
        writing = (async () => {
          for (let i = 0; verifiedAt === null && !stop; i++) {
            await call(`s${id}-before-${i}`, messages[i % messages.length]);
            await sleep(10);
          }
        })();
        await sleep(100);
        const result = await retireCampaignSet(conn, {
          url: db.url, campaignId: id, outDir: out,
          onStepDone: (step) => {
            steps.push(step);
            if (step !== 'verify') return;
            verifiedAt = Date.now();
            // ... and then at 0, 10, ..., 200 ms after it, the window (6 of 24 sets lost one).
            afterVerify = Promise.all(Array.from({ length: 21 }, (_, i) => sleep(i * 10).then(() => call(`s${id}-after-${i}`, messages[i]))));
          },
        });
        await writing;
        await afterVerify;
        expect(result).to.include({ outcome: 'retired', resumed: false });
        expect(result.steps.filter((r) => r.outcome !== 'done')).to.deep.equal([]);
      } finally {
        stop = true;
        await writing;
        await afterVerify;
        await writer.end();
      }
      expect(steps).to.deep.equal(['preflight', 'freeze', 'unfinished', 'checksum', 'dump', 'manifest', 'verify', 'drop']);
      const acknowledged = calls.filter((c) => c.outcome === 'acknowledged').map((c) => c.tag);
      const refused = calls.filter((c) => c.outcome === 'refused');
      const after = calls.filter((c) => c.tag.includes('-after-'));
      const written = (await refsInDump(id)).filter((r) => r.startsWith(`s${id}-`));
      expect(acknowledged.length, 'writes before the freeze were acknowledged').to.be.greaterThan(0);
      expect(after).to.have.length(21);
      expect(after.filter((c) => c.outcome === 'refused'), 'every call after the verification was refused').to.have.length(21);
      for (const r of refused) expect(r.message, r.tag).to.match(refusal('add_status_update', id));
      expect([...written].sort(), 'the dump holds exactly the acknowledged writes').to.deep.equal([...acknowledged].sort());
      expect(await setState(id)).to.equal('retired');
      totals.acknowledged += acknowledged.length;
      totals.refusedBeforeVerify += refused.length - after.length;
      totals.afterVerify += after.length;
      totals.inDumps += written.length;
    }
    console.log(`      ${SETS} sets: ${totals.acknowledged} writes acknowledged, ${totals.inDumps} of them in the dumps; ` +
      `${totals.refusedBeforeVerify} refused between the freeze and the verification, ${totals.afterVerify} refused after it`);
    expect(totals.inDumps).to.equal(totals.acknowledged);
  });

  /** A call of add_status_update stopped inside its transaction: another session holds the message's status row. */
  async function callInsideTheSet(id: number, message: number, tag: string) {
    const blocker = await db.connect();
    const app = await db.connect();
    const mcs = await tableName(conn, id, 'message_contact_status');
    await blocker.query('START TRANSACTION');
    await blocker.query(`UPDATE \`${mcs}\` SET updated_at = updated_at WHERE message_id = ?`, [message]);
    const appThread = await threadOf(app);
    let settled: string | null = null;
    const pending = statusUpdate(app, id, message, tag).then(() => 'acknowledged', (err) => `refused: ${(err as Error).message}`)
      .then((outcome) => (settled = outcome));
    const release = async () => { await blocker.query('ROLLBACK'); };
    const end = async () => { await release().catch(() => undefined); await pending; await blocker.end(); await app.end(); };
    try {
      await waitFor(async () => settled !== null || await waitsForLock(appThread), 30_000, 'the call to wait inside its transaction');
      expect(settled, 'the call waits inside its transaction').to.equal(null);
    } catch (err) {
      await end();
      throw err;
    }
    return { pending, release, end };
  }

  it('waits for a call already inside the set when the freeze comes; its write is in the dump', async () => {
    const { id, messages } = await finishedSet('in flight');
    const inside = await callInsideTheSet(id, messages[0], 'in-flight');
    try {
      const retireThread = await threadOf(conn);
      const retiring = retireCampaignSet(conn, { url: db.url, campaignId: id, outDir: out });
      await waitFor(() => waitsForLock(retireThread), 30_000, 'the freeze to wait for the call');
      // The freeze has not committed: the set is still in service while the call is inside it.
      expect((await queryRows<{ state: string }>(observer, 'SELECT state FROM campaign_sets WHERE campaign_id = ?', [id]))[0].state).to.equal('active');
      await inside.release();
      expect(await inside.pending).to.equal('acknowledged');
      expect(await retiring).to.include({ outcome: 'retired' });
    } finally {
      await inside.end();
    }
    expect((await refsInDump(id)).filter((r) => r === 'in-flight')).to.have.length(1);
  });

  it('a freeze whose wait runs out changes nothing: the set stays in service, nothing is written', async () => {
    const { id, messages } = await finishedSet('wait runs out');
    const before = await setChecksums(id);
    const [{ wait }] = await queryRows<{ wait: number }>(conn, 'SELECT @@SESSION.innodb_lock_wait_timeout AS wait');
    const inside = await callInsideTheSet(id, messages[0], 'outlasts the freeze');
    let error: unknown;
    try {
      await retireCampaignSet(conn, { url: db.url, campaignId: id, outDir: out, lockTimeout: 1 }).catch((e) => { error = e; });
      expect(error).to.be.instanceOf(RetireStepError);
      expect((error as Error).message).to.equal(`campaign ${id}: freeze failed: transactions inside the set (application calls, a message load) ` +
        'did not end within 1 s; nothing was changed, the set stays in service');
      expect(await setState(id)).to.equal('active');
      expect(fs.readdirSync(out)).to.deep.equal([]);
      await inside.release();
      expect(await inside.pending).to.equal('acknowledged');
    } finally {
      await inside.end();
    }
    const [{ now }] = await queryRows<{ now: number }>(conn, 'SELECT @@SESSION.innodb_lock_wait_timeout AS now');
    expect(Number(now), 'the session keeps its own lock wait').to.equal(Number(wait));
    const after = await setChecksums(id);
    const updates = await tableName(conn, id, 'status_updates');
    expect(after[updates].rows).to.equal(before[updates].rows + 1);
  });

  it('a killed retire leaves the set retiring: every writing routine refuses it, campaign list shows it; --cancel returns it to service, a rerun resumes', async () => {
    const { id, messages } = await finishedSet('killed');
    // Work for each routine: a packet to mark, a window to mark, a claimed batch to complete.
    const fresh = await seedMessages(conn, id, { count: 3, contacts: company.contactIds, status: null, daysAgo: 0 });
    await conn.query(`UPDATE \`${await tableName(conn, id, 'messages')}\` SET packet = 7 WHERE id IN (?)`, [fresh]);
    await conn.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, id, 7]);
    const [claimed] = await conn.query("CALL claim_batch(?, 'immediate', 'race', 1, 300)", [id]) as unknown as [[{ batch_id: number }[]]];
    const batch = claimed[0][0];
    expect(batch, 'a batch to complete').to.exist;
    const token = randomBytes(32).toString('hex');
    await conn.query('CALL session_issue(?, ?, 3600)', [company.allowedUser, token]);
    const file = path.join(out, 'load.csv');
    fs.writeFileSync(file, `contact_id,method,packet\n${company.contactIds[0]},email,9\n`);

    const killedRetire = async () => {
      const run = runCliAsync(['campaign', 'retire', String(id), '--out', out, '--force', '--url', db.url], { REMINDERLY_PAUSE_AT: 'verify' });
      let stderr = '';
      run.child.stderr!.on('data', (d) => { stderr += d; });
      await waitFor(async () => stderr.includes('paused at verify'), 60_000, 'the retire to reach the verification');
      run.child.kill('SIGKILL');
      await run.done;
    };
    await killedRetire();
    expect(await setState(id)).to.equal('retiring');
    const frozen = await setChecksums(id);

    const list = runCli(['campaign', 'list', '--url', db.url]);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout.split('\n').find((l) => l.startsWith(`${id}\t`))!.split('\t')[3]).to.equal('retiring');
    expect(list.stderr).to.contain(`campaign ${id}: retiring (the routines refuse it): campaign retire ${id} --out DIR finishes it, --cancel returns it to service`);

    const calls: [string, string, unknown[]][] = [
      ['add_status_update', 'CALL add_status_update(?, ?, ?, ?, ?, ?)', [id, messages[0], 'email', 'opened', 'refused', null]],
      ['claim_batch', "CALL claim_batch(?, 'immediate', 'race', 10, 60)", [id]],
      ['complete_batch', 'CALL complete_batch(?, ?)', [batch.batch_id, JSON.stringify([{ message_id: fresh[0], status: 'sent' }])]],
      ['mark_packet_ready', 'CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, id, 8]],
      ['mark_ready', "CALL mark_ready(?, ?, '2000-01-01', '2100-01-01')", [company.allowedUser, id]],
      ['session_mark_packet_ready', 'CALL session_mark_packet_ready(?, ?, ?)', [token, id, 8]],
      ['session_mark_ready', "CALL session_mark_ready(?, ?, '2000-01-01', '2100-01-01')", [token, id]],
      ['history_move', 'CALL history_move(?, 0, 100, NULL, 1)', [id]],
    ];
    const refusals: string[] = [];
    for (const [routine, sql, args] of calls) {
      let message = '';
      await conn.query(sql, args).catch((e) => { message = (e as { sqlMessage: string }).sqlMessage; });
      expect(message, routine).to.equal(`${routine}: campaign ${id}: its table set is being retired; nothing was changed`);
      expect(message).to.match(RETIRING_REFUSAL);
      refusals.push(routine);
    }
    let loadError = '';
    await loadMessages({ url: db.url, campaignId: id, file, log: () => undefined, progress: 'none' }).catch((e) => { loadError = (e as Error).message; });
    expect(loadError).to.equal(`messages load: campaign ${id}: its table set is being retired; nothing was changed`);
    refusals.push('messages load');
    let upgradeError = '';
    await conn.query('CALL campaign_set_upgrade(?, NULL)', [id]).catch((e) => { upgradeError = (e as { sqlMessage: string }).sqlMessage; });
    expect(upgradeError).to.equal(`campaign_set_upgrade: campaign ${id}: its table set is being retired (finish it, or campaign retire --cancel)`);
    expect(refusals).to.have.length(9);
    expect(await setChecksums(id), 'nothing changed the retiring set').to.deep.equal(frozen);

    const cancel = runCli(['campaign', 'retire', String(id), '--cancel', '--url', db.url]);
    expect(cancel.code, cancel.stderr).to.equal(0);
    expect(cancel.stdout.trim()).to.equal(`campaign ${id}: retire cancelled, its set is back in service`);
    expect(await setState(id)).to.equal('active');
    await statusUpdate(conn, id, messages[0], 'back in service');
    const again = runCli(['campaign', 'retire', String(id), '--cancel', '--url', db.url]);
    expect(again.stdout.trim()).to.equal(`campaign ${id}: its set is not being retired (active), nothing changed`);

    await killedRetire();
    expect(await setState(id)).to.equal('retiring');
    const resumed = runCli(['campaign', 'retire', String(id), '--out', out, '--force', '--json', '--url', db.url]);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(JSON.parse(resumed.stdout)).to.include({ outcome: 'retired', resumed: true, reusedDump: true });
    expect(await setState(id)).to.equal('retired');
    const refs = await refsInDump(id);
    expect(refs.filter((r) => r === 'back in service')).to.have.length(1);
    expect(refs.filter((r) => r === 'refused')).to.have.length(0);
  });

  it('a retire that fails after the freeze returns the set to service and says why', async () => {
    const { id, messages } = await finishedSet('fails');
    const before = await setChecksums(id);
    // A dump tool that answers --version like the real one and fails at the dump.
    const server = await detectServer(conn);
    const real = spawnSync('sh', ['-c', `command -v ${server.dumpCommand}`], { encoding: 'utf8' }).stdout.trim();
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-fakedump-'));
    fs.writeFileSync(path.join(bin, server.dumpCommand),
      `#!/bin/sh\ncase "$1" in --version) exec ${real} --version;; esac\necho "simulated dump failure" >&2\nexit 2\n`, { mode: 0o755 });
    try {
      const failed = runCli(['campaign', 'retire', String(id), '--out', out, '--url', db.url], { PATH: `${bin}:${process.env.PATH}` });
      expect(failed.code).to.equal(2);
      expect(failed.stderr).to.match(new RegExp(`campaign ${id}: dump failed: .*simulated dump failure.*; nothing was dropped; the set is back in service`));
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
    expect(await setState(id)).to.equal('active');
    expect(await setChecksums(id)).to.deep.equal(before);
    await statusUpdate(conn, id, messages[0], 'after the failure');
    const updates = await tableName(conn, id, 'status_updates');
    expect((await setChecksums(id))[updates].rows).to.equal(before[updates].rows + 1);
  });
});
