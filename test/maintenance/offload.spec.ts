import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { parseRotatedTableName, rotatedTableName, rotateLogTables, rotatedLogTables } from '../../tools/maintenance/log-tables';
import { tableChecksum } from '../../tools/maintenance/checksum';
import { offloadRotatedLogs } from '../../tools/maintenance/offload';
import { restoreOffloaded } from '../../tools/maintenance/restore';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const LOG_TABLE = `CREATE TABLE IF NOT EXISTS log_probe (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  logged_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  level VARCHAR(10) NOT NULL,
  message TEXT NOT NULL,
  detail JSON NULL,
  KEY ix_log_probe_logged_at (logged_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

async function fillLog(conn: Connection, rows: number, loggedAt = '2026-01-05 10:00:00.000'): Promise<void> {
  const values = Array.from({ length: rows }, (_, i) => [loggedAt, i % 2 ? 'info' : 'warn', `row ${i} ✓ 'quoted' \\ ;`, JSON.stringify({ i })]);
  for (let i = 0; i < values.length; i += 1000) {
    await conn.query('INSERT INTO log_probe (logged_at, level, message, detail) VALUES ?', [values.slice(i, i + 1000)]);
  }
}

describe('log table names', () => {
  it('round-trips a rotated name and ignores live tables', () => {
    const name = rotatedTableName('log_events', new Date('2026-01-05T10:00:00Z'), new Date('2026-01-07T23:00:00Z'));
    expect(name).to.equal('log_events__20260105_20260107');
    const parsed = parseRotatedTableName(name)!;
    expect(parsed.base).to.equal('log_events');
    expect(parsed.to.toISOString()).to.equal('2026-01-08T00:00:00.000Z');
    expect(parseRotatedTableName('log_events')).to.equal(null);
    expect(parseRotatedTableName('log_events__20260105_20260107_2')!.base).to.equal('log_events');
  });
});

describe('maintenance: rotation and verified offload', () => {
  const db = useThrowawayDatabase({ label: 'offload' });
  let conn: Connection;
  let out: string;
  before(async () => { conn = await db.connect(); });
  after(async () => { await conn?.end(); });
  beforeEach(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-offload-'));
    const tables = await queryRows<{ t: string }>(conn, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()");
    for (const { t } of tables) await conn.query(`DROP TABLE \`${t}\``);
    await conn.query(LOG_TABLE);
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  const total = async () => {
    let n = 0;
    for (const t of await queryRows<{ t: string }>(conn, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'log\\_probe%'")) {
      n += Number((await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${t.t}\``))[0].n);
    }
    return n;
  };

  it('rotation under 8 concurrent writers loses no row and fails no insert', async () => {
    const writers = await Promise.all(Array.from({ length: 8 }, () => db.connect()));
    let inserted = 0;
    let failures = 0;
    let stop = false;
    const loops = writers.map(async (w) => {
      while (!stop) {
        try {
          await w.query("INSERT INTO log_probe (level, message) VALUES ('info', 'writer')");
          inserted++;
        } catch {
          failures++;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const rotations = [];
    for (let i = 0; i < 3; i++) {
      rotations.push(...await rotateLogTables(conn, ['log_probe']));
      await new Promise((r) => setTimeout(r, 200));
    }
    stop = true;
    await Promise.all(loops);
    await Promise.all(writers.map((w) => w.end()));
    expect(failures).to.equal(0);
    expect(rotations.filter((r) => r.rotatedTo)).to.have.length(3);
    expect(await total()).to.equal(inserted);
  });

  it('offloads an old rotated table: dump, manifest, verified restore, then drop; restore brings it back once', async () => {
    await fillLog(conn, 2500);
    const [rotation] = await rotateLogTables(conn);
    const before = await tableChecksum(conn, db.name, rotation.rotatedTo!);
    const results = await offloadRotatedLogs({ url: db.url, outDir: out, olderThanMs: 30 * 86_400_000 });
    expect(results).to.have.length(1);
    expect(results[0]).to.include({ outcome: 'offloaded', rows: 2500 });
    expect(await rotatedLogTables(conn)).to.deep.equal([]);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, `${rotation.rotatedTo}.manifest.json`), 'utf8'));
    expect(manifest).to.include({ table: rotation.rotatedTo, rows: 2500, checksum: before.checksum });
    expect(manifest.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(manifest.tool).to.match(/dump/i);

    const file = path.join(out, `${rotation.rotatedTo}.sql.gz`);
    const first = runCli(['maintenance', 'restore', file, '--url', db.url]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain('2500 rows restored');
    const second = runCli(['maintenance', 'restore', file, '--url', db.url]);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.contain('already present');
    expect(await tableChecksum(conn, db.name, rotation.rotatedTo!)).to.deep.equal(before);
  });

  it('leaves young rotated tables alone', async () => {
    await conn.query("INSERT INTO log_probe (level, message) VALUES ('info', 'today')");
    await rotateLogTables(conn);
    expect(await offloadRotatedLogs({ url: db.url, outDir: out, olderThanMs: 30 * 86_400_000 })).to.deep.equal([]);
    expect(await rotatedLogTables(conn)).to.have.length(1);
  });

  it('drops nothing when the output folder is not writable or the dump tool is missing', async () => {
    await fillLog(conn, 100);
    await rotateLogTables(conn);
    const notAFolder = path.join(out, 'file');
    fs.writeFileSync(notAFolder, 'x');
    const unwritable = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', path.join(notAFolder, 'sub'), '--url', db.url]);
    // Checked before anything is read or locked: a usage error, one line (tools/errors.ts ExitCode).
    expect(unwritable.code).to.equal(1);
    expect(unwritable.stderr).to.match(/^reminderly-db: --out \S+: \S+file is not a folder\n$/);
    // A PATH with node and nothing else: no dump tool to find.
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-path-'));
    fs.symlinkSync(process.execPath, path.join(bare, 'node'));
    const noTool = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url], { PATH: bare });
    fs.rmSync(bare, { recursive: true, force: true });
    expect(noTool.code).to.equal(2);
    expect(noTool.stderr).to.match(/preflight failed: (mariadb-dump|mysqldump) not found on PATH/);
    expect(await rotatedLogTables(conn)).to.have.length(1);
    expect(await total()).to.equal(100);
  });

  it('a dump damaged before verification is caught and nothing is dropped', async () => {
    await fillLog(conn, 500);
    const [rotation] = await rotateLogTables(conn);
    // First run stops before the drop (as if killed there), leaving dump and manifest.
    const paused = runCliAsync(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url], { REMINDERLY_PAUSE_AT: 'drop' });
    let stderr = '';
    paused.child.stderr!.on('data', (d) => { stderr += d; });
    await waitFor(async () => stderr.includes('paused at drop'), 60_000, 'the offload to reach the drop');
    paused.child.kill('SIGKILL');
    await paused.done;
    const file = path.join(out, `${rotation.rotatedTo}.sql.gz`);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const rerun = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url]);
    expect(rerun.code).to.equal(2);
    expect(rerun.stdout + rerun.stderr).to.match(new RegExp(`${rotation.rotatedTo}: verify failed: .*SHA-256`));
    expect(await total()).to.equal(500);
  });

  for (const point of ['dump', 'verify', 'drop']) {
    it(`a run killed (SIGKILL) during ${point} is completed by the rerun with every row kept once`, async () => {
      await fillLog(conn, 3000);
      const [rotation] = await rotateLogTables(conn);
      const original = await tableChecksum(conn, db.name, rotation.rotatedTo!);
      const run = runCliAsync(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url], { REMINDERLY_PAUSE_AT: point });
      let stderr = '';
      run.child.stderr!.on('data', (d) => { stderr += d; });
      await waitFor(async () => stderr.includes(`paused at ${point}`), 60_000, `the offload to reach ${point}`);
      run.child.kill('SIGKILL');
      await run.done;
      expect(await total(), 'nothing is deleted before verification').to.equal(3000);
      const rerun = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url]);
      expect(rerun.code, rerun.stderr).to.equal(0);
      expect(await rotatedLogTables(conn)).to.deep.equal([]);
      // Every row is in exactly one place: the offloaded dump, restored here to count it.
      const restored = await restoreOffloaded(db.url, path.join(out, `${rotation.rotatedTo}.sql.gz`));
      expect(restored.rows).to.equal(3000);
      expect(await tableChecksum(conn, db.name, rotation.rotatedTo!)).to.deep.equal(original);
      expect(fs.readdirSync(out).filter((f) => f.endsWith('.partial'))).to.deep.equal([]);
    });
  }
});
