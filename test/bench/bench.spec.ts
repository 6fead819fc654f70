// Smoke test of `reminderly-db bench`: the whole benchmark at a tiny size against the real server
// (MYSQL_URL), through the CLI as `npm run bench` runs it. It checks what the run writes (the
// JSON's shape and its correctness figures, the chart), that the throwaway database is gone
// afterwards and that a server setting it may change is as before; not the speed.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { runCli } from '../helpers/cli';
import { testServerUrl } from '../../tools/harness/database';
import { queryRows, withConnection } from '../../tools/sql/connection';
import { BenchReport, DEFAULT_SECTIONS } from '../../tools/bench/types';
import { parseSections, parseWorkers } from '../../tools/bench/command';
import { UserError } from '../../tools/errors';

describe('bench (tiny run against the real server)', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-bench-spec-'));
  const out = path.join(dir, 'results.json');
  const svg = path.join(dir, 'chart.svg');
  let report: BenchReport;
  let code: number;
  let stdout: string;
  let stderr: string;
  let localInfileBefore: number;

  before(async function () {
    localInfileBefore = await withConnection(testServerUrl(), async (c) =>
      Number((await queryRows<{ v: number }>(c, 'SELECT @@global.local_infile AS v'))[0].v), { database: null });
    ({ code, stdout, stderr } = runCli(['bench', '--url', testServerUrl(), '--rows', '1000', '--sample-rows', '200', '--contacts', '300',
      '--workers', '1,4,16', '--scale-sets', '2', '--maintenance-rows', '500', '--sql-run-mb', '1', '--load-repeats', '1', '--out', out, '--svg', svg], { CI: '1' }));
    if (fs.existsSync(out)) report = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchReport;
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and prints the table with the server, its durability settings and the targets', () => {
    expect(code, stderr.slice(-2000)).to.equal(0);
    expect(stdout).to.match(/reminderly-db bench: (mysql|mariadb) /);
    expect(stdout).to.include('innodb_flush_log_at_trx_commit=');
    expect(stdout).to.include('sync_binlog=');
    for (const heading of ['Bulk load:', 'Claim + complete:', 'Scale:', 'Maintenance', 'Targets']) expect(stdout).to.include(heading);
    // Plain progress lines in CI, never a bar.
    expect(stderr).not.to.match(/\[[█░]+\]/);
  });

  it('writes the JSON: server, machine, each load method with its rows and ratio to the ceiling', () => {
    expect(report.format).to.equal(1);
    expect(report.server.version).to.match(/^\d+\.\d+\.\d+$/);
    expect(report.server.durability.innodb_flush_log_at_trx_commit).to.match(/^[0-2]$/);
    expect(report.server.durability.sync_binlog).to.match(/^\d+$/);
    expect(report.machine.cpus).to.be.greaterThan(0);
    const load = report.load!;
    const byMethod = new Map(load.results.map((r) => [r.method, r]));
    for (const m of ['single-row-insert', 'multi-row-insert-100', 'multi-row-insert-1000', 'multi-row-insert-5000', 'loader', 'knex-batch-insert']) {
      expect(byMethod.get(m)?.status, `${m}: ${byMethod.get(m)?.note}`).to.equal('ok');
      expect(byMethod.get(m)!.perSecond).to.be.greaterThan(0);
    }
    expect(byMethod.get('single-row-insert')!.units).to.equal(200);
    expect(byMethod.get('loader')!.units).to.equal(1000);
    const ceiling = byMethod.get('ceiling')!;
    if (report.server.local_infile) {
      expect(ceiling.status, ceiling.note).to.equal('ok');
      expect(ceiling.ratioToCeiling).to.equal(1);
      expect(byMethod.get('loader')!.ratioToCeiling).to.be.greaterThan(0);
    } else {
      expect(ceiling.status).to.equal('skipped');
      expect(ceiling.note).to.include('local_infile=OFF');
      expect(byMethod.get('loader')!.label).to.include('INSERT fallback');
    }
  });

  it('claims the same rows three ways with 1, 4 and 16 workers, with no duplicate and no lost message', () => {
    const claim = report.claim!;
    expect(claim.results.map((r) => `${r.method}/${r.workers}`)).to.have.members(
      ['pipeline/1', 'bare/1', 'naive/1', 'pipeline/4', 'bare/4', 'naive/4', 'pipeline/16', 'bare/16', 'naive/16']);
    for (const r of claim.results) {
      expect(r.status, `${r.method}/${r.workers}: ${r.note}`).to.equal('ok');
      expect(r.units).to.equal(1000);
      expect({ duplicates: r.duplicates, lost: r.lost }).to.deep.equal({ duplicates: 0, lost: 0 });
    }
    expect(report.correct).to.equal(true);
  });

  it('judges the loader, claim pipeline, offload and sql run targets from ratios of the same run', () => {
    expect(report.targets.map((t) => t.name)).to.deep.equal(['loader-vs-ceiling', 'pipeline-vs-bare', 'pipeline-scaling', 'pipeline-vs-naive', 'offload-vs-hand', 'sqlrun-vs-client']);
    for (const t of report.targets.slice(1)) {
      expect(t.ratio).to.be.a('number');
      expect(t.pass).to.equal(t.ratio! >= t.threshold);
    }
    expect(report.targets[0].pass === null).to.equal(!report.server.local_infile);
  });

  it('creates and upgrades the sets, times list and status, moves finished messages to history, rotates and offloads logs', () => {
    const scale = report.scale!;
    expect(scale.create.units).to.equal(2);
    expect(scale.create.tables).to.equal(2 * scale.tablesPerSet);
    expect(scale.upgrade.status, scale.upgrade.note).to.equal('ok');
    expect(scale.upgrade.toVersion).to.equal(scale.upgrade.fromVersion + 1);
    expect(scale.upgrade.setsUpgraded).to.equal(2);
    expect(scale.list!.items).to.be.at.least(2);
    expect(scale.status!.items).to.be.greaterThan(0);
    // migrate drift over the sets, before the throwaway template version: nothing differs.
    expect(scale.drift!.items).to.equal(0);
    expect(scale.drift!.setsCompared).to.equal(2);
    const m = report.maintenance!;
    expect(m.rotate.units).to.equal(500);
    expect(m.offload.status, m.offload.note).to.equal('ok');
    expect(m.offload.units).to.equal(500);
    expect(m.historyMoveByChunk.map((r) => [r.chunk, r.status, r.units])).to.deep.equal([[100, 'ok', 500], [1000, 'ok', 500], [10000, 'ok', 500]]);
    expect(m.historyMove.units).to.equal(500);
    expect(m.historyMoveByChunk[0].rowsMoved).to.be.greaterThan(500);
    expect(m.offloadByHand.status, m.offloadByHand.note).to.equal('ok');
    expect(m.offloadByHand.units).to.equal(500);
    expect(m.offloadRatio).to.be.a('number');
    expect(Object.keys(m.offloadSteps)).to.include.members(['dump', 'verify: restore']);
  });

  it('replays one dump with the client and with sql run, checks both restores and prints the "sql run" row with its ratio', () => {
    const sqlrun = report.sqlrun!;
    expect(sqlrun.bytes).to.be.greaterThan(500_000);
    expect(sqlrun.results.map((r) => [r.method, r.status, r.units])).to.deep.equal([['client', 'ok', sqlrun.bytes], ['runner', 'ok', sqlrun.bytes]]);
    for (const r of sqlrun.results) expect(r.note).to.match(new RegExp(`restore checked: ${sqlrun.rows} rows, checksum \\d+`));
    expect(sqlrun.ratio).to.be.a('number');
    expect(stdout).to.match(/^  sql run \(runSqlFile\) +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+x +(PASS|FAIL)$/m);
  });

  it('draws the chart as SVG with a bar per measured method', () => {
    const text = fs.readFileSync(svg, 'utf8');
    expect(text).to.match(/^<\?xml[^>]*>\s*<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(text.trimEnd().endsWith('</svg>')).to.equal(true);
    const measured = report.load!.results.filter((r) => r.status === 'ok').length + report.claim!.results.filter((r) => r.status === 'ok').length;
    const maintenance = [report.maintenance!.historyMove, report.maintenance!.offload].filter((r) => r.status === 'ok').length;
    // One bar per measured method, plus the background.
    expect((text.match(/<rect /g) ?? []).length).to.equal(measured + maintenance + 1);
    expect(text).not.to.match(/NaN|undefined/);
  });

  it('drops its throwaway database and leaves local_infile as it found it', async () => {
    const left = await withConnection(testServerUrl(), (c) =>
      queryRows(c, 'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [report.database]), { database: null });
    expect(report.database).to.match(/^rdbt_.*_bench$/);
    expect(left).to.have.length(0);
    const now = await withConnection(testServerUrl(), async (c) =>
      Number((await queryRows<{ v: number }>(c, 'SELECT @@global.local_infile AS v'))[0].v), { database: null });
    expect(now).to.equal(localInfileBefore);
  });

  it('refuses an unknown section or worker count with a one-line reason and touches no server', () => {
    const bad = runCli(['bench', '--url', 'mysql://root@127.0.0.1:1', '--only', 'load,bogus']);
    expect(bad.code).to.equal(1);
    expect(bad.stderr.trim()).to.equal('reminderly-db: --only: unknown section "bogus" (expected load, claim, scale, maintenance, sqlrun, restart)');
    expect(() => parseWorkers('4,zero')).to.throw(UserError, '--workers: "zero" is not a worker count from 1 to 64');
    expect(parseWorkers('16,1,4,4')).to.deep.equal([1, 4, 16]);
    expect(parseSections('maintenance,load')).to.deep.equal(['load', 'maintenance']);
    // The restart section starts and kills a private server: only when asked for.
    expect(parseSections('restart,claim')).to.deep.equal(['claim', 'restart']);
    expect(DEFAULT_SECTIONS).to.deep.equal(['load', 'claim', 'scale', 'maintenance', 'sqlrun']);
  });
});
