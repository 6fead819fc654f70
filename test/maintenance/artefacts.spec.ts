// Offload artefacts: names no later run reuses, never written over, manifests that protect
// themselves, restores that verify in scratch before touching the live tables, and no
// verification copy left behind by a killed run (tools/maintenance/README.md).
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { tableChecksum, TableChecksum } from '../../tools/maintenance/checksum';
import { rotateLogTables, rotatedLogTables } from '../../tools/maintenance/log-tables';
import { offloadRotatedLogs } from '../../tools/maintenance/offload';
import { manifestSideFile, writeSealedManifest } from '../../tools/maintenance/manifest-seal';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const LOG_TABLE = `CREATE TABLE IF NOT EXISTS log_probe (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  logged_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  level VARCHAR(10) NOT NULL,
  message TEXT NOT NULL,
  KEY ix_log_probe_logged_at (logged_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('maintenance: offload artefacts are unique, sealed and restored only after verification', () => {
  const db = useThrowawayDatabase({ label: 'artefacts' });
  let conn: Connection;
  let out: string;
  before(async () => { conn = await db.connect(); });
  after(async () => { await conn?.end(); });
  beforeEach(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-artefacts-'));
    for (const { t } of await queryRows<{ t: string }>(conn, 'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()')) {
      await conn.query(`DROP TABLE \`${t}\``);
    }
    await conn.query(LOG_TABLE);
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  const logRows = async () => {
    let n = 0;
    for (const t of await queryRows<{ t: string }>(conn, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'log\\_probe%'")) {
      n += Number((await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${t.t}\``))[0].n);
    }
    return n;
  };
  /** Every table of the database with its checksum: "the live tables exactly as they were". */
  const snapshot = async () => {
    const all: Record<string, TableChecksum> = {};
    for (const { t } of await queryRows<{ t: string }>(conn, 'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME')) {
      all[t] = await tableChecksum(conn, db.name, t);
    }
    return all;
  };
  const fill = async (rows: number) => {
    const values = Array.from({ length: rows }, (_, i) => ['2026-01-05 10:00:00.000', 'info', `row ${i}`]);
    await conn.query('INSERT INTO log_probe (logged_at, level, message) VALUES ?', [values]);
  };

  it('three rotations and offloads in one minute with writers running: three artefacts, every acknowledged row restorable once', async () => {
    const writers = await Promise.all(Array.from({ length: 3 }, () => db.connect()));
    let acknowledged = 0;
    let stop = false;
    const loops = writers.map(async (w, i) => {
      while (!stop) {
        await w.query("INSERT INTO log_probe (level, message) VALUES ('info', ?)", [`writer ${i}`]);
        acknowledged++;
      }
    });
    const rotatedTo: string[] = [];
    let offloaded = 0;
    for (let round = 0; round < 3; round++) {
      await sleep(300);
      const [rotation] = await rotateLogTables(conn, ['log_probe']);
      rotatedTo.push(rotation.rotatedTo!);
      const results = await offloadRotatedLogs({ url: db.url, outDir: out, olderThanMs: 0 });
      expect(results.map((r) => r.outcome), JSON.stringify(results)).to.deep.equal(['offloaded']);
      offloaded += results[0].rows;
    }
    stop = true;
    await Promise.all(loops);
    await Promise.all(writers.map((w) => w.end()));
    expect(new Set(rotatedTo).size, 'three rotated names, none reused').to.equal(3);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.sql.gz')).sort()).to.deep.equal(rotatedTo.map((t) => `${t}.sql.gz`).sort());
    const live = await logRows();
    expect(live + offloaded, 'live rows + offloaded rows').to.equal(acknowledged);

    const day = new Date().toISOString().slice(0, 10);
    const restore = runCli(['maintenance', 'restore', out, '--day', day, '--url', db.url]);
    expect(restore.code, restore.stderr).to.equal(0);
    expect(restore.stdout).to.contain(`${day}: 3 artefact(s), ${offloaded} rows present`);
    expect(await logRows(), 'every acknowledged row, once').to.equal(acknowledged);
    const again = runCli(['maintenance', 'restore', out, '--day', day, '--url', db.url]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout.match(/already present/g)).to.have.length(3);
    expect(await logRows()).to.equal(acknowledged);
  });

  it('a rerun finds the complete artefact of a killed run and uses it untouched; a name taken by other rows is never written over', async () => {
    await fill(400);
    const [rotation] = await rotateLogTables(conn);
    const run = runCliAsync(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url], { REMINDERLY_PAUSE_AT: 'drop' });
    let stderr = '';
    run.child.stderr!.on('data', (d) => { stderr += d; });
    await waitFor(async () => stderr.includes('paused at drop'), 60_000, 'the offload to reach the drop');
    run.child.kill('SIGKILL');
    await run.done;
    const artefact = [`${rotation.rotatedTo}.sql.gz`, `${rotation.rotatedTo}.manifest.json`, `${rotation.rotatedTo}.manifest.json.sha256`].map((f) => path.join(out, f));
    const stat = (f: string) => { const s = fs.statSync(f); return { ino: s.ino, mtimeMs: s.mtimeMs, bytes: fs.readFileSync(f).toString('hex') }; };
    const before = artefact.map(stat);
    const rerun = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url]);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(rerun.stderr).to.contain('match the table; verifying them as they are');
    expect(artefact.map(stat), 'the artefact is left exactly as it was').to.deep.equal(before);
    expect(await rotatedLogTables(conn)).to.deep.equal([]);

    // A manifest of the next rotated table's name, holding other rows: refused, never replaced.
    await fill(50);
    const [next] = await rotateLogTables(conn);
    const squatter = path.join(out, `${next.rotatedTo}.manifest.json`);
    writeSealedManifest(squatter, { format: 1, database: db.name, table: next.rotatedTo, rows: 7, checksum: '1', file: `${next.rotatedTo}.sql.gz`, sha256: '0'.repeat(64) }, true);
    const squatterBytes = fs.readFileSync(squatter, 'utf8');
    const refused = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/manifest failed: .*already exists for other rows \(7, the table 50\); it is never overwritten/);
    expect(fs.readFileSync(squatter, 'utf8')).to.equal(squatterBytes);
    expect(fs.existsSync(path.join(out, `${next.rotatedTo}.sql.gz`))).to.equal(false);
    expect(await logRows()).to.equal(50);
  });

  it('a dump no manifest vouches for (a run killed between the two) is removed and made again; the table kept its rows', async () => {
    await fill(120);
    const [rotation] = await rotateLogTables(conn);
    const orphan = path.join(out, `${rotation.rotatedTo}.sql.gz`);
    fs.writeFileSync(orphan, 'not a finished dump');
    const rerun = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url]);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(rerun.stderr).to.contain(`removing ${rotation.rotatedTo}.sql.gz, a dump without manifest left by a killed run`);
    const restore = runCli(['maintenance', 'restore', orphan, '--url', db.url]);
    expect(restore.code, restore.stderr).to.equal(0);
    expect(restore.stdout).to.contain('120 rows restored');
    const bad = runCli(['maintenance', 'restore', out, '--day', '2026-13-01', '--url', db.url]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.equal('reminderly-db: --day must be a date like 2026-12-03 (UTC), got "2026-13-01"\n');
  });

  it('a manifest with any field changed by one digit is damage: restore exits 1 with one line and the live tables are unchanged', async () => {
    await fill(300);
    const [rotation] = await rotateLogTables(conn);
    const [result] = await offloadRotatedLogs({ url: db.url, outDir: out, olderThanMs: 0 });
    expect(result.outcome).to.equal('offloaded');
    await conn.query("INSERT INTO log_probe (level, message) VALUES ('info', 'live')");
    const live = await snapshot();
    const dump = path.join(out, `${rotation.rotatedTo}.sql.gz`);
    const manifestFile = path.join(out, `${rotation.rotatedTo}.manifest.json`);
    const original = fs.readFileSync(manifestFile, 'utf8');
    const manifest = JSON.parse(original);
    /** The manifest's value for a field with its first digit changed (9 -> 0, else +1). */
    const bump = (value: string | number) => {
      const text = String(value);
      const at = text.search(/\d/);
      const changed = text.slice(0, at) + ((Number(text[at]) + 1) % 10) + text.slice(at + 1);
      return typeof value === 'number' ? Number(changed) : changed;
    };
    const fields: Record<string, (m: Record<string, any>) => void> = {
      rows: (m) => { m.rows = bump(m.rows); },
      checksum: (m) => { m.checksum = bump(m.checksum); },
      sha256: (m) => { m.sha256 = bump(m.sha256); },
      'range.from': (m) => { m.range.from = bump(m.range.from); },
      'range.to': (m) => { m.range.to = bump(m.range.to); },
      createdAt: (m) => { m.createdAt = bump(m.createdAt); },
    };
    let refusedAsDamage = 0;
    for (const [field, change] of Object.entries(fields)) {
      const edited = JSON.parse(original);
      change(edited);
      // The digit changed in the file's text, as an editor (or a bad disk) would: everything else as it was.
      fs.writeFileSync(manifestFile, JSON.stringify(edited, null, 2) + '\n');
      const r = runCli(['maintenance', 'restore', dump, '--url', db.url]);
      expect(r.code, `${field}: ${r.stderr}`).to.equal(1);
      expect(r.stderr.trim().split('\n'), field).to.have.length(1);
      expect(r.stderr, field).to.match(/changed since it was written: .*\(damaged\); nothing restored, the live tables are unchanged/);
      expect(await snapshot(), field).to.deep.equal(live);
      refusedAsDamage++;
    }
    expect(refusedAsDamage).to.equal(6);

    // Changed and sealed again (a manifest rewritten by someone else's tool): the restore into
    // scratch finds what the dump really holds and names the field, still touching nothing.
    const resealed: Record<string, RegExp> = {
      rows: /the dump holds 300 rows, the manifest says \d+ \(rows\)/,
      checksum: /the manifest says \d+ \(checksum\)/,
      sha256: /SHA-256 differs from the manifest/,
      'range.from': /lie outside the manifest's range .* \(range\)/,
      'range.to': /lie outside the manifest's range .* \(range\)/,
    };
    for (const [field, message] of Object.entries(resealed)) {
      const edited = JSON.parse(original);
      // range.from later than the rows, range.to before them: bump the day forward, or back to the rows' own day.
      if (field === 'range.from') edited.range.from = '2026-01-06T00:00:00.000Z';
      else if (field === 'range.to') edited.range.to = '2026-01-05T00:00:00.000Z';
      else fields[field](edited);
      delete edited.seal;
      fs.rmSync(manifestFile);
      fs.rmSync(manifestSideFile(manifestFile));
      writeSealedManifest(manifestFile, edited, true);
      const r = runCli(['maintenance', 'restore', dump, '--url', db.url]);
      expect(r.code, `${field}: ${r.stderr}`).to.equal(1);
      expect(r.stderr.trim().split('\n'), field).to.have.length(1);
      expect(r.stderr, field).to.match(message);
      expect(await snapshot(), field).to.deep.equal(live);
    }

    fs.rmSync(manifestFile);
    fs.rmSync(manifestSideFile(manifestFile));
    writeSealedManifest(manifestFile, manifest, true);
    const ok = runCli(['maintenance', 'restore', dump, '--url', db.url]);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.contain('300 rows restored');
    expect(await logRows()).to.equal(301);
    const [{ n }] = await queryRows<{ n: number }>(conn, "SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'rdbt\\_%\\_verify' AND SCHEMA_NAME LIKE ?", [`%\\_${process.pid}\\_%`]);
    expect(Number(n), 'no scratch database left by the restores').to.equal(0);
  });

  it('a verification killed mid-way leaves a copy that the next run removes, by name, and says so', async () => {
    await fill(200);
    await rotateLogTables(conn);
    const run = runCliAsync(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url], { REMINDERLY_PAUSE_AT: 'verify' });
    let stderr = '';
    run.child.stderr!.on('data', (d) => { stderr += d; });
    await waitFor(async () => stderr.includes('paused at verify'), 60_000, 'the offload to reach the verification');
    run.child.kill('SIGKILL');
    await run.done;
    // Verification restores into the database's fixed scratch schema <db>_verify (verify-scratch.ts).
    const scratch = `${db.name}_verify`;
    const copies = async () => (await queryRows<{ s: string }>(conn,
      'SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [scratch])).map((r) => r.s);
    expect(await copies(), 'the killed verification left its copy').to.deep.equal([scratch]);
    const rerun = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url]);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(await copies(), 'no copy of production rows is left').to.deep.equal([]);
    expect(rerun.stderr + rerun.stdout).to.contain(`removed ${scratch}, a verification copy left by a killed run`);
    expect(await rotatedLogTables(conn)).to.deep.equal([]);
  });
});
