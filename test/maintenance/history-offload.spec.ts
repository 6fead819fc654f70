// Verified offload of old history rows (dump, verify by restoring, then delete exactly those rows)
// and the maintenance_runs record of each step: real dumps through the server's own tool, real
// kills (SIGKILL) at each step.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { tableChecksum, TableChecksum } from '../../tools/maintenance/checksum';
import { runHistoryMoves } from '../../tools/maintenance/history';
import { historyTables, HistoryManifest } from '../../tools/maintenance/history-offload';
import { restoreOffloaded } from '../../tools/maintenance/restore';
import { runCli, runCliAsync, waitFor } from '../helpers/cli';
import { createCampaign, seedCompany, seedMessages } from './helpers';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('maintenance offload: old history rows', () => {
  const db = useThrowawayDatabase({ label: 'mhoffload', migrated: true });
  let conn: Connection;
  let out: string;
  let tables: string[];
  /** Every history table's rows and checksum right after the set-up of each test. */
  let original: Map<string, TableChecksum>;
  let contacts: number[];
  let companyId: number;
  let serial = 0;

  before(async () => {
    conn = await db.connect();
    const company = await seedCompany(conn, 20);
    contacts = company.contactIds;
    companyId = company.companyId;
  });
  after(async () => { await conn?.end(); });

  /**
   * A fresh campaign whose 3,000 finished messages (6,000 status updates, 1,000 interactions) were
   * moved to history 40 days ago, 50 moved yesterday, and batches_history rows of both ages.
   */
  beforeEach(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-hoffload-'));
    for (const t of await historyTables(conn)) await conn.query(`DELETE FROM \`${t}\``);
    await conn.query("UPDATE campaign_sets SET state = 'retired' WHERE state = 'active'");
    const campaign = await createCampaign(conn, companyId, `hoffload ${++serial}`);
    await seedMessages(conn, campaign, { count: 3000, contacts, status: 'delivered', daysAgo: 45 });
    const [moved] = await runHistoryMoves(conn, { campaignIds: [campaign], olderThanDays: 30, progress: 'none' });
    expect(moved.moved.messages).to.equal(3000);
    tables = (await historyTables(conn)).filter((t) => t !== 'batches_history');
    for (const t of tables) await conn.query(`UPDATE \`${t}\` SET moved_at = moved_at - INTERVAL 40 DAY`);
    await seedMessages(conn, campaign, { count: 50, contacts, status: 'bounced', daysAgo: 45 });
    await runHistoryMoves(conn, { campaignIds: [campaign], olderThanDays: 30, progress: 'none' });
    const [{ run }] = await queryRows<{ run: number }>(conn, 'SELECT id AS run FROM run_types ORDER BY id LIMIT 1');
    await conn.query(`INSERT INTO batches_history (id, campaign_id, run_type_id, worker, claimed_at, lease_until, completed_at, message_count, sent_count, failed_count, moved_at)
      VALUES (1, ?, ?, 'w1', NOW(3) - INTERVAL 50 DAY, NOW(3) - INTERVAL 49 DAY, NOW(3) - INTERVAL 50 DAY, 100, 99, 1, NOW(3) - INTERVAL 45 DAY),
             (2, ?, ?, 'w2', NOW(3) - INTERVAL 50 DAY, NOW(3) - INTERVAL 49 DAY, NULL, 100, 0, 0, NOW(3) - INTERVAL 45 DAY),
             (3, ?, ?, 'w1', NOW(3) - INTERVAL 2 DAY, NOW(3) - INTERVAL 1 DAY, NOW(3) - INTERVAL 2 DAY, 10, 10, 0, NOW(3) - INTERVAL 1 DAY)`,
    [campaign, run, campaign, run, campaign, run]);
    tables.push('batches_history');
    original = new Map();
    for (const t of tables) original.set(t, await tableChecksum(conn, db.name, t));
  });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  const rowsOf = async (t: string) => Number((await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${t}\``))[0].n);
  const manifests = (): HistoryManifest[] => fs.readdirSync(out).filter((f) => f.endsWith('.manifest.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(out, f), 'utf8')) as HistoryManifest);
  const offload = (env: NodeJS.ProcessEnv = {}, extra: string[] = []) =>
    runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url, ...extra], env);

  /** Rows left + rows in the dumps = rows before, one dump per table, and restoring every dump gives back the original tables. */
  async function expectEveryRowOnce(): Promise<void> {
    const byTable = new Map<string, HistoryManifest[]>();
    for (const m of manifests()) byTable.set(m.table, [...(byTable.get(m.table) ?? []), m]);
    for (const t of tables) {
      const dumps = byTable.get(t) ?? [];
      expect(dumps, `${t}: one dump, not a second of the same rows`).to.have.length(1);
      const marker = path.join(out, dumps[0].file.replace(/\.sql\.gz$/, '.deleted.json'));
      expect(fs.existsSync(marker), `${t}: the offload is complete (${path.basename(marker)})`).to.equal(true);
      expect(await rowsOf(t) + dumps[0].rows, `${t}: rows left + rows dumped`).to.equal(original.get(t)!.rows);
    }
    for (const m of manifests()) {
      const restored = await restoreOffloaded(db.url, path.join(out, m.file));
      expect(restored).to.include({ outcome: 'restored', rows: m.rows });
    }
    for (const t of tables) expect(await tableChecksum(conn, db.name, t), t).to.deep.equal(original.get(t));
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.partial'))).to.deep.equal([]);
  }

  it('a history manifest with a field changed by one digit (cutoff, rows, checksum, range) is refused before the restore touches the table', async () => {
    const run = offload();
    expect(run.code, run.stderr).to.equal(0);
    const messages = tables.find((t) => t.endsWith('_messages_history'))!;
    const manifest = manifests().find((m) => m.table === messages)!;
    const manifestFile = path.join(out, manifest.file.replace(/\.sql\.gz$/, '.manifest.json'));
    const text = fs.readFileSync(manifestFile, 'utf8');
    const live = async () => Promise.all(tables.map((t) => tableChecksum(conn, db.name, t)));
    const before = await live();
    const bumpFirstDigit = (value: string) => value.replace(/\d/, (d) => String((Number(d) + 1) % 10));
    const edits: Record<string, (m: Record<string, any>) => void> = {
      cutoff: (m) => { m.cutoff = bumpFirstDigit(m.cutoff); },
      where: (m) => { m.where = bumpFirstDigit(m.where); },
      rows: (m) => { m.rows = Number(bumpFirstDigit(String(m.rows))); },
      checksum: (m) => { m.checksum = bumpFirstDigit(m.checksum); },
      'range.from': (m) => { m.range.from = bumpFirstDigit(m.range.from); },
    };
    for (const [field, edit] of Object.entries(edits)) {
      const changed = JSON.parse(text);
      edit(changed);
      fs.writeFileSync(manifestFile, JSON.stringify(changed, null, 2) + '\n');
      const r = runCli(['maintenance', 'restore', path.join(out, manifest.file), '--url', db.url]);
      expect(r.code, `${field}: ${r.stderr}`).to.equal(1);
      expect(r.stderr.trim().split('\n'), field).to.have.length(1);
      expect(r.stderr, field).to.match(/changed since it was written: .*nothing restored, the live tables are unchanged/);
      expect(await live(), field).to.deep.equal(before);
    }
    fs.writeFileSync(manifestFile, text);
    const ok = runCli(['maintenance', 'restore', path.join(out, manifest.file), '--url', db.url]);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.contain(`${messages}: 3000 rows restored`);
    expect(await rowsOf(messages)).to.equal(3050);
  });

  it('dumps exactly the rows moved to history over 30 days ago, verifies, deletes them in chunks; restore is idempotent', async () => {
    const run = offload({}, ['--delete-chunk', '700']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/status_updates_history: 6000 history rows offloaded to .*\.sql\.gz, verified, deleted/);
    expect(run.stdout).to.match(/batches_history: 2 history rows offloaded/);
    const byTable = new Map(manifests().map((m) => [m.table, m]));
    const updates = tables.find((t) => t.endsWith('_status_updates_history'))!;
    const messages = tables.find((t) => t.endsWith('_messages_history'))!;
    expect(byTable.get(messages)).to.include({ kind: 'history-rows', rows: 3000 });
    expect(byTable.get(updates)!.rows).to.equal(6000);
    expect(byTable.get(updates)!.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(byTable.get(updates)!.tool).to.match(/dump/i);
    expect(byTable.get(updates)!.range!.to).to.equal(byTable.get(updates)!.cutoff);
    // The young rows stay.
    expect(await rowsOf(messages)).to.equal(50);
    expect(await rowsOf(updates)).to.equal(100);
    expect(await rowsOf('batches_history')).to.equal(1);
    // Nothing left to do: a second run changes nothing.
    const again = offload();
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('nothing to offload');

    // Restoring into the live table, next to its other rows: once, then "already present".
    const file = path.join(out, byTable.get(updates)!.file);
    const first = runCli(['maintenance', 'restore', file, '--url', db.url]);
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain('6000 rows restored');
    const second = runCli(['maintenance', 'restore', file, '--url', db.url]);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.contain('already present');
    expect(await tableChecksum(conn, db.name, updates)).to.deep.equal(original.get(updates));
    // A restore cut short (some rows back, not all) is completed, not doubled.
    await conn.query(`DELETE FROM \`${updates}\` WHERE moved_at < NOW() - INTERVAL 30 DAY ORDER BY id LIMIT 2500`);
    const third = runCli(['maintenance', 'restore', file, '--url', db.url]);
    expect(third.code, third.stderr).to.equal(0);
    expect(await tableChecksum(conn, db.name, updates)).to.deep.equal(original.get(updates));
  });

  for (const point of ['dump', 'verify', 'drop', 'delete']) {
    it(`a run killed (SIGKILL) ${point === 'drop' ? 'between verification and delete' : point === 'delete' ? 'mid-delete' : `during ${point}`} is finished by the rerun, every row kept once`, async () => {
      const run = runCliAsync(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url, '--delete-chunk', '1000'], { REMINDERLY_PAUSE_AT: point });
      let stderr = '';
      run.child.stderr!.on('data', (d) => { stderr += d; });
      await waitFor(async () => stderr.includes(`paused at ${point}`), 90_000, `the offload to reach ${point}`);
      run.child.kill('SIGKILL');
      await run.done;
      if (point !== 'delete') {
        for (const t of tables) expect(await rowsOf(t), `${t}: nothing deleted before verification`).to.equal(original.get(t)!.rows);
      }
      const rerun = offload();
      expect(rerun.code, rerun.stdout + rerun.stderr).to.equal(0);
      await expectEveryRowOnce();
    });
  }

  it('a dump damaged (one byte flipped) before verification is caught and nothing is deleted', async () => {
    const paused = runCliAsync(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url], { REMINDERLY_PAUSE_AT: 'drop' });
    let stderr = '';
    paused.child.stderr!.on('data', (d) => { stderr += d; });
    await waitFor(async () => stderr.includes('paused at drop'), 90_000, 'the offload to reach the delete');
    paused.child.kill('SIGKILL');
    await paused.done;
    const [m] = manifests();
    const file = path.join(out, m.file);
    const bytes = fs.readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const rerun = offload();
    expect(rerun.code).to.equal(2);
    expect(rerun.stdout + rerun.stderr).to.match(new RegExp(`${m.table}: verify failed: .*SHA-256`));
    // The damaged table keeps every row; the other tables' offloads are their own and went on.
    expect(await tableChecksum(conn, db.name, m.table)).to.deep.equal(original.get(m.table));
  });

  it('deletes nothing when the output folder is not writable or the dump tool is missing, and records each outcome in maintenance_runs', async () => {
    const notAFolder = path.join(out, 'file');
    fs.writeFileSync(notAFolder, 'x');
    const unwritable = runCli(['maintenance', 'offload', '--older-than', '30d', '--out', path.join(notAFolder, 'sub'), '--url', db.url]);
    // Checked before anything is read or locked: a usage error, one line (tools/errors.ts ExitCode).
    expect(unwritable.code).to.equal(1);
    expect(unwritable.stderr).to.match(/^reminderly-db: --out \S+: \S+file is not a folder\n$/);

    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-path-'));
    fs.symlinkSync(process.execPath, path.join(bare, 'node'));
    const noTool = offload({ PATH: bare });
    fs.rmSync(bare, { recursive: true, force: true });
    expect(noTool.code).to.equal(2);
    expect(noTool.stdout, noTool.stdout).to.match(/^FAILED campaign_\d+_messages_history: preflight failed: (mariadb-dump|mysqldump) not found on PATH/m);
    const [failed] = await queryRows<{ ok: number; detail: string; finished: Date | null }>(conn,
      "SELECT ok, detail, finished_at AS finished FROM maintenance_runs WHERE step = 'offload' ORDER BY id DESC LIMIT 1");
    expect(Number(failed.ok)).to.equal(0);
    expect(failed.finished).to.be.instanceOf(Date);
    expect(failed.detail).to.match(/FAILED, first: .*_history: preflight failed: /);
    for (const t of tables) expect(await rowsOf(t), t).to.equal(original.get(t)!.rows);

    const good = offload();
    expect(good.code, good.stderr).to.equal(0);
    const [ok] = await queryRows<{ ok: number; detail: string }>(conn, "SELECT ok, detail FROM maintenance_runs WHERE step = 'offload' ORDER BY id DESC LIMIT 1");
    expect(Number(ok.ok)).to.equal(1);
    expect(ok.detail).to.match(/13002 history rows from 5 table\(s\)/);
  });
});
