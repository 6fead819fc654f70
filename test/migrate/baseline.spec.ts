// `migrate baseline` on a real server: a database restored from the server's own dump (`mariadb-dump`, `mysqldump`) of
// a migrated one (campaign sets, routines; no ledger) is adopted only when its schema equals the
// history: a difference refuses it with the line, --dry-run writes nothing (row counts), and
// after a real baseline `migrate up` has nothing to do and drift finds nothing.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { parseUrl, queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { FINDINGS_EXIT_CODE } from '../../tools/errors';
import { migrateUp, migrationStatus } from '../../tools/migrate/migrator';
import { discoverMigrations } from '../../tools/migrate/sources';
import { createCampaign, seedCompany } from '../pipeline/helpers';
import { runCli } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

function connectionArgs(url: string): string[] {
  const u = parseUrl(url);
  return ['--protocol=TCP', '-h', u.host, '-P', String(u.port), '-u', u.user, ...(u.password ? [`-p${u.password}`] : [])];
}

/** What a DBA does: the server's own dump tool with routines, without the tool's books; restored by the client. */
function dumpAndRestore(server: ServerInfo, from: ThrowawayDatabase, to: ThrowawayDatabase): void {
  const dump = spawnSync(server.dumpCommand, [...connectionArgs(from.url), ...server.dumpOptions, '--routines', '--triggers', '--events', '--single-transaction', '--no-tablespaces',
    `--ignore-table=${from.name}.migrations`, `--ignore-table=${from.name}.migration_ledger`, from.name], { encoding: 'buffer', maxBuffer: 1 << 28 });
  if (dump.status !== 0) throw new Error(`${server.dumpCommand}: ${dump.stderr.toString()}`);
  const restore = spawnSync(server.clientCommand, [...connectionArgs(to.url), to.name], { input: dump.stdout, encoding: 'utf8' });
  if (restore.status !== 0) throw new Error(`${server.clientCommand} < dump: ${restore.stderr}`);
}

describe('migrate baseline', function () {
  this.timeout(300_000);
  const source = useThrowawayDatabase({ label: 'blsrc', migrated: true });
  let copy: ThrowawayDatabase;
  let campaignId: number;

  before(async () => {
    const server = await withConnection(source.url, async (conn) => {
      const company = await seedCompany(conn, 3);
      campaignId = await createCampaign(conn, company.companyId, 'baseline');
      return detectServer(conn);
    });
    copy = await createThrowawayDatabase('blcopy');
    dumpAndRestore(server, source, copy);
  });
  after(async () => {
    await copy?.drop();
  });

  const newest = () => Math.max(...discoverMigrations().filter((s) => s.kind === 'versioned').map((s) => s.version!));
  const baseline = (...extra: string[]) => runCli(['migrate', 'baseline', '--url', copy.url, '--version', String(newest()), ...extra]);

  /** Every table of the copy with its exact row count: what "writes nothing" is measured by. */
  const rowCounts = () => withConnection(copy.url, async (conn) => {
    const tables = await queryRows<{ name: string }>(conn,
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME");
    const counts: Record<string, number> = {};
    for (const t of tables) counts[t.name] = Number((await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${t.name}\``))[0].n);
    return counts;
  });

  it('refuses a database that differs, naming the difference, and records nothing', async () => {
    const before = await rowCounts();
    expect(before).to.not.have.property('migration_ledger');
    await withConnection(copy.url, (c) => c.query(`ALTER TABLE campaign_${campaignId}_messages ADD COLUMN by_hand INT NULL`));
    try {
      const result = baseline();
      expect(result.code, result.stderr).to.equal(FINDINGS_EXIT_CODE);
      expect(result.stdout.split('\n').filter(Boolean)).to.deep.equal([`campaign_${campaignId}_messages: column by_hand extra`]);
      expect(result.stderr).to.match(/baseline refused: .* differs from the history up to version \d+ in 1 place\(s\) \(listed above\); nothing was recorded/);
      expect(await rowCounts()).to.deep.equal(before);
    } finally {
      await withConnection(copy.url, (c) => c.query(`ALTER TABLE campaign_${campaignId}_messages DROP COLUMN by_hand`));
    }
  });

  it('--dry-run proves the schema and says what it would record, writing nothing (row counts unchanged)', async () => {
    const before = await rowCounts();
    const result = baseline('--dry-run');
    expect(result.code, result.stderr).to.equal(0);
    const files = discoverMigrations();
    expect(result.stdout.split('\n').filter((l) => l.startsWith('would-record'))).to.have.length(files.length);
    expect(result.stderr).to.match(new RegExp(`--dry-run: ${files.length} file\\(s\\) would be recorded as applied, nothing was written`));
    expect(await rowCounts()).to.deep.equal(before);
  });

  it('records every version and routine as applied; then up has nothing to do and drift finds nothing', async () => {
    const result = baseline();
    expect(result.code, result.stderr).to.equal(0);
    const files = discoverMigrations();
    expect(result.stdout.split('\n').filter((l) => l.startsWith('recorded'))).to.have.length(files.length);
    const status = await migrationStatus({ url: copy.url });
    expect(status.files.filter((f) => f.state === 'applied')).to.have.length(files.length);
    const versioned = files.filter((f) => f.kind === 'versioned').length;
    const recorded = await withConnection(copy.url, (c) => queryRows<{ n: number }>(c, 'SELECT COUNT(*) AS n FROM migrations'));
    expect(Number(recorded[0].n)).to.equal(versioned);
    const up = await migrateUp({ url: copy.url, quiet: true });
    expect(up.results).to.deep.equal([]);
    const drift = runCli(['migrate', 'drift', '--url', copy.url]);
    expect(drift.stdout, drift.stderr).to.equal('');
    expect(drift.code).to.equal(0);
    // A second baseline finds its own history and records nothing new.
    const again = baseline();
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout.split('\n').filter((l) => l.startsWith('already-recorded'))).to.have.length(files.length);
  });

  it('below the newest version records only the versioned files up to it; up then applies the rest and every routine', async () => {
    const older = await createThrowawayDatabase('blold');
    try {
      await migrateUp({ url: older.url, to: 11, quiet: true });
      await withConnection(older.url, (c) => c.query('DROP TABLE migration_ledger, migrations'));
      const result = runCli(['migrate', 'baseline', '--url', older.url, '--version', '11']);
      expect(result.code, result.stderr).to.equal(0);
      const upTo11 = discoverMigrations().filter((f) => f.kind === 'versioned' && f.version! <= 11);
      expect(result.stdout.split('\n').filter(Boolean)).to.deep.equal(upTo11.map((f) => `${'recorded'.padEnd(16)} ${f.name}.sql`));
      expect(result.stderr).to.match(/routines are not compared: version 11 is not the newest/);
      const up = await migrateUp({ url: older.url, quiet: true });
      const files = discoverMigrations();
      expect(up.results.filter((r) => r.outcome === 'applied')).to.have.length(files.length - upTo11.length);
      const versionOf = new Map(files.map((f) => [f.name, f.version]));
      expect(up.results.filter((r) => r.kind === 'versioned' && versionOf.get(r.name)! <= 11)).to.deep.equal([]);
      expect(up.results.filter((r) => r.kind === 'repeatable')).to.have.length(files.filter((f) => f.kind === 'repeatable').length);
    } finally {
      await older.drop();
    }
  });

  it('refuses a database that has another history, and a version the checkout does not have, with one line (exit 1)', async () => {
    const unknown = runCli(['migrate', 'baseline', '--url', copy.url, '--version', '9999']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr.trim()).to.match(/^reminderly-db: --version 9999: no versioned file has that version \(the checkout has 1, 2,/);
    // The source's own history, with a file that failed: not a baseline's to overwrite.
    await withConnection(source.url, (c) => c.query("UPDATE migration_ledger SET status = 'failed' WHERE name = 'schema/V0050__maintenance_runs'"));
    try {
      const history = runCli(['migrate', 'baseline', '--url', source.url, '--version', String(newest())]);
      expect(history.code).to.equal(1);
      expect(history.stderr.trim().split('\n')).to.have.length(1);
      expect(history.stderr).to.match(/already has a migration history \(schema\/V0050__maintenance_runs.sql is failed in the ledger\)/);
    } finally {
      await withConnection(source.url, (c) => c.query("UPDATE migration_ledger SET status = 'applied' WHERE name = 'schema/V0050__maintenance_runs'"));
    }
  });
});
