// The standing proof that history moves and their offload never lose or double a row: writers
// call add_status_update (the application routine) on young messages while `maintenance history`
// and `maintenance offload` are killed (SIGKILL) at random moments; then a clean history move and
// offload finish what the killed runs left, and every message and every acknowledged status update
// is looked for in the hot tables, the history tables and the history dumps (each dump restored
// into its own scratch database, so that no INSERT IGNORE can hide a row found twice): each must
// be found exactly once. The counts are printed; REMINDERLY_FAULT_SEED=<n> replays the kill delays.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { createThrowawayDatabase } from '../../tools/harness/database';
import { Connection, queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { restoreDump } from '../../tools/maintenance/dump';
import { runCli, runCliAsync } from '../helpers/cli';
import { usePipelineDatabase } from '../pipeline/helpers';
import { createCampaign, seedCompany, seedMessages, tableName } from './helpers';

const ROUNDS = Number(process.env.REMINDERLY_FAULT_ROUNDS ?? 4);

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('history moves and their offload under faults: every message and acknowledged status update exactly once', () => {
  const db = usePipelineDatabase('fault_history');
  let conn: Connection;
  let out: string;
  before(async () => {
    conn = await db.connect();
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-fault-history-'));
  });
  after(async () => {
    await conn?.end();
    fs.rmSync(out, { recursive: true, force: true });
  });

  it(`${ROUNDS} rounds of maintenance history and offload killed at random points, with writers calling add_status_update`, async () => {
    const seed = Number(process.env.REMINDERLY_FAULT_SEED ?? Date.now() % 100_000);
    const next = random(seed);
    const company = await seedCompany(conn, 20);
    const campaign = await createCampaign(conn, company.companyId, 'faults');
    const old = await seedMessages(conn, campaign, { count: 1500, contacts: company.contactIds, status: 'delivered', daysAgo: 45 });
    const young = await seedMessages(conn, campaign, { count: 60, contacts: company.contactIds, status: 'delivered', daysAgo: 1 });
    const [messages, updates, messagesHistory, updatesHistory] = await Promise.all(
      ['messages', 'status_updates', 'messages_history', 'status_updates_history'].map((k) => tableName(conn, campaign, k)));
    const seededUpdates = (await queryRows<{ id: number }>(conn, `SELECT id FROM \`${updates}\``)).map((r) => `id:${r.id}`);

    const acknowledged: string[] = [];
    let stop = false;
    const writers = await Promise.all(Array.from({ length: 3 }, () => db.connect()));
    const loops = writers.map(async (w, i) => {
      for (let n = 0; !stop; n++) {
        const tag = `w${i}-${n}`;
        await w.query('CALL add_status_update(?, ?, ?, ?, ?, ?)', [campaign, young[n % young.length], 'email', 'opened', tag, null]);
        acknowledged.push(tag);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    const kills: string[] = [];
    const typical = new Map<string, number>();
    const commands = [['maintenance', 'history', '--all', '--older-than', '30d', '--chunk', '100'], ['maintenance', 'offload', '--older-than', '0m', '--out', out]];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const command of commands) {
          const delay = Math.floor(next() * (typical.get(command[1]) ?? 3000));
          const started = Date.now();
          const run = runCliAsync([...command, '--url', db.url]);
          const timer = setTimeout(() => run.child.kill('SIGKILL'), delay);
          const result = await run.done;
          clearTimeout(timer);
          if (result.code !== -1) typical.set(command[1], Date.now() - started);
          kills.push(`${command[1]} ${result.code === -1 ? `killed at ${delay} ms` : `exit ${result.code} (not killed by ${delay} ms)`}`);
        }
      }
    } finally {
      stop = true;
      await Promise.all(loops);
      await Promise.all(writers.map((w) => w.end()));
    }
    for (const command of commands) {
      const clean = runCli([...command, '--url', db.url]);
      expect(clean.code, `${command[1]}: ${clean.stdout} ${clean.stderr}`).to.equal(0);
    }

    const found = new Map<string, number>();
    const add = (keys: string[]) => { for (const k of keys) found.set(k, (found.get(k) ?? 0) + 1); };
    const updateKeys = async (c: Connection, schema: string, table: string) => (await queryRows<{ id: number; ref: string | null }>(c,
      `SELECT id, provider_ref AS ref FROM \`${schema}\`.\`${table}\``)).map((r) => (r.ref && /^w\d+-\d+$/.test(r.ref) ? r.ref : `id:${r.id}`));
    const messageKeys = async (c: Connection, schema: string, table: string) => (await queryRows<{ id: number }>(c,
      `SELECT id FROM \`${schema}\`.\`${table}\``)).map((r) => `m:${r.id}`);
    add(await messageKeys(conn, db.name, messages));
    add(await messageKeys(conn, db.name, messagesHistory));
    add(await updateKeys(conn, db.name, updates));
    add(await updateKeys(conn, db.name, updatesHistory));
    const dumps = fs.readdirSync(out).filter((f) => f.endsWith('.sql.gz') && (f.startsWith(`${messagesHistory}.`) || f.startsWith(`${updatesHistory}.`)));
    const server = await detectServer(conn);
    let dumpedRows = 0;
    for (const d of dumps) {
      const scratch = await createThrowawayDatabase('faultcount', db.serverUrl);
      try {
        await restoreDump(server, db.url, scratch.name, path.join(out, d));
        const keys = await withConnection(scratch.url, (c) => (d.startsWith(`${messagesHistory}.`)
          ? messageKeys(c, scratch.name, messagesHistory) : updateKeys(c, scratch.name, updatesHistory)));
        dumpedRows += keys.length;
        add(keys);
      } finally {
        await scratch.drop();
      }
    }
    const expected = [...old, ...young].map((id) => `m:${id}`).concat(seededUpdates, acknowledged);
    const missing = expected.filter((k) => !found.has(k));
    const doubled = [...found].filter(([, n]) => n > 1).map(([k]) => k);
    const [{ hot }] = await queryRows<{ hot: number }>(conn, `SELECT COUNT(*) AS hot FROM \`${messages}\``);
    console.log(`      seed ${seed}; ${kills.join(', ')}`);
    console.log(`      messages ${old.length + young.length} (${hot} hot), status updates ${seededUpdates.length} seeded + ${acknowledged.length} acknowledged; ` +
      `${dumps.length} history dumps holding ${dumpedRows} rows; missing ${missing.length}, found twice ${doubled.length}`);
    expect(missing, `seed ${seed}`).to.have.length(0);
    expect(doubled, `seed ${seed}`).to.have.length(0);
    expect(found.size, `seed ${seed}: nothing found that was not expected`).to.equal(expected.length);
    expect(Number(hot), 'the young messages stay hot').to.equal(young.length);
  });
});
