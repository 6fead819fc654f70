// The standing proof that log rows are never lost or doubled: writers insert log rows while
// `maintenance rotate-logs` and `maintenance offload` are killed (SIGKILL) at random moments,
// round after round; then one clean offload finishes what the killed runs left, and every
// acknowledged row is looked for in the live table, the rotated tables and the dump files:
// each must be found exactly once. The counts are printed. Seeded randomness: a failure names
// its seed (REMINDERLY_FAULT_SEED=<n> replays the same kill delays).
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { createThrowawayDatabase } from '../../tools/harness/database';
import { Connection, queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { restoreDump } from '../../tools/maintenance/dump';
import { runCli, runCliAsync } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const LOG_TABLE = `CREATE TABLE IF NOT EXISTS log_probe (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  logged_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  level VARCHAR(10) NOT NULL,
  message VARCHAR(100) NOT NULL,
  KEY ix_log_probe_logged_at (logged_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

const ROUNDS = Number(process.env.REMINDERLY_FAULT_ROUNDS ?? 6);
const WRITERS = 3;

/** A small deterministic generator (mulberry32): the same seed, the same kill delays. */
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

describe('maintenance under faults: every acknowledged log row exactly once', () => {
  const db = useThrowawayDatabase({ label: 'faults' });
  let conn: Connection;
  let out: string;
  before(async () => {
    conn = await db.connect();
    await conn.query(LOG_TABLE);
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-faults-'));
  });
  after(async () => {
    await conn?.end();
    fs.rmSync(out, { recursive: true, force: true });
  });

  it(`${ROUNDS} rounds of rotate-logs and offload killed at random points, with ${WRITERS} writers`, async () => {
    const seed = Number(process.env.REMINDERLY_FAULT_SEED ?? Date.now() % 100_000);
    const next = random(seed);
    const acknowledged = new Set<string>();
    let stop = false;
    const writers = await Promise.all(Array.from({ length: WRITERS }, () => db.connect()));
    const loops = writers.map(async (w, i) => {
      for (let n = 0; !stop; n++) {
        const tag = `w${i}-${n}`;
        await w.query("INSERT INTO log_probe (level, message) VALUES ('info', ?)", [tag]);
        acknowledged.add(tag);
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    const kills: string[] = [];
    const typical = new Map<string, number>();
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const command of [['maintenance', 'rotate-logs'], ['maintenance', 'offload', '--older-than', '0m', '--out', out]]) {
          // Anywhere in the command's run, from its start-up to its last step: the delay is drawn
          // from how long the command last took when it was not killed.
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
    // One clean rotation and offload: finishes what the killed runs left (parked tables, dumps
    // without manifests, verified dumps whose table was not dropped yet).
    const rotate = runCli(['maintenance', 'rotate-logs', '--url', db.url]);
    expect(rotate.code, rotate.stderr).to.equal(0);
    const offload = runCli(['maintenance', 'offload', '--older-than', '0m', '--out', out, '--url', db.url]);
    expect(offload.code, offload.stderr).to.equal(0);

    const found = new Map<string, number>();
    const count = (tags: string[]) => { for (const t of tags) found.set(t, (found.get(t) ?? 0) + 1); };
    const tagsIn = async (c: Connection, schema: string) => {
      const tables = await queryRows<{ t: string }>(c, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'log\\_probe%'", [schema]);
      let rows = 0;
      for (const { t } of tables) {
        const tags = (await queryRows<{ m: string }>(c, `SELECT message AS m FROM \`${schema}\`.\`${t}\``)).map((r) => r.m);
        rows += tags.length;
        count(tags);
      }
      return { tables: tables.length, rows };
    };
    const inDatabase = await tagsIn(conn, db.name);
    // Every dump in the folder, restored into one scratch database (each holds its own table name).
    const dumps = fs.readdirSync(out).filter((f) => f.endsWith('.sql.gz'));
    const scratch = await createThrowawayDatabase('faultcount', db.serverUrl);
    let inDumps: { tables: number; rows: number };
    try {
      const server = await detectServer(conn);
      for (const d of dumps) await restoreDump(server, db.url, scratch.name, path.join(out, d));
      inDumps = await withConnection(scratch.url, (c) => tagsIn(c, scratch.name));
    } finally {
      await scratch.drop();
    }
    const missing = [...acknowledged].filter((t) => !found.has(t));
    const doubled = [...found].filter(([, n]) => n > 1).map(([t]) => t);
    const leftovers = fs.readdirSync(out).filter((f) => f.endsWith('.partial'));
    console.log(`      seed ${seed}; ${kills.join(', ')}`);
    console.log(`      acknowledged ${acknowledged.size}; in the database ${inDatabase.rows} (${inDatabase.tables} tables), ` +
      `in ${dumps.length} dumps ${inDumps.rows}; missing ${missing.length}, found twice ${doubled.length}`);
    expect(missing.length, `seed ${seed}: missing e.g. ${missing.slice(0, 3)}`).to.equal(0);
    expect(doubled.length, `seed ${seed}: found twice e.g. ${doubled.slice(0, 3)}`).to.equal(0);
    expect(inDatabase.rows + inDumps.rows, `seed ${seed}`).to.equal(acknowledged.size);
    expect(inDatabase.tables, 'only the live table is left: every rotated table was offloaded').to.equal(1);
    expect(leftovers).to.deep.equal([]);
  });
});
