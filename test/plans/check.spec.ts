// The plan check on real servers, on the fixture project (test/plans/fixtures/project): a job
// queue of 200,000 rows claimed through a composite index by dynamic SQL, as claim_batch does.
// Each leg captures where it can: MariaDB on a private mariadbd with its slow log (started here),
// MySQL on the server under test (performance_schema on, optimizer trace per session).
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { testServerUrl } from '../../tools/harness/database';
import { checkPlans, CheckResult } from '../../tools/plans/check';
import { renderDiff } from '../../tools/plans/planfile';
import { renderFindings } from '../../tools/plans/report';
import { acquireCaptureServer, CaptureServer } from '../../tools/plans/server';
import { copyFixture, runCli } from '../helpers/cli';

const FIXTURE = path.join(__dirname, 'fixtures', 'project');

const BY_CATEGORY = `-- fx_by_category: counts a queue's jobs of one category. category has no index.
DROP PROCEDURE IF EXISTS fx_by_category;
DELIMITER $$
CREATE PROCEDURE fx_by_category(IN p_category INT UNSIGNED)
BEGIN
  SELECT COUNT(*) AS jobs FROM fx_jobs WHERE category = p_category;
END$$
DELIMITER ;
`;

/** A copy of the fixture with fx_by_category and a call to it. */
function withUnindexedFilter(dir: string): void {
  fs.writeFileSync(path.join(dir, 'procedures', 'fx_by_category.sql'), BY_CATEGORY);
  const file = path.join(dir, 'plans', 'scenarios.json');
  const scenario = JSON.parse(fs.readFileSync(file, 'utf8'));
  scenario.calls.push('fx_by_category category=7');
  fs.writeFileSync(file, JSON.stringify(scenario, null, 2));
}

describe('plans: the check on a real server', function () {
  this.timeout(240_000);
  let capture: CaptureServer;

  before(async function () {
    this.timeout(120_000);
    capture = await acquireCaptureServer(testServerUrl());
  });

  after(async function () {
    this.timeout(60_000);
    await capture?.stop();
  });

  const run = (root: string, extra: Partial<Parameters<typeof checkPlans>[0]> = {}): Promise<CheckResult> =>
    checkPlans({ url: capture.url, server: capture.server, slowLogFile: capture.slowLogFile, root, ...extra });

  it('captures every statement the routines run, nested calls and dynamic SQL included, and they match the committed plan file', async () => {
    const result = await run(FIXTURE);
    expect(renderFindings(result)).to.match(/^ok: /m);
    expect(result.ok).to.equal(true);
    const of = (routine: string, start: string) => result.statements.find((s) => s.routine === routine && s.fingerprint.startsWith(start));
    // A nested routine's statement, attributed to it, with the parameter's value in place.
    const nested = of('fx_check_queue', 'SELECT max_batch INTO p_max FROM fx_queues WHERE id = p_queue')!;
    expect(nested.calls).to.deep.equal(['fx_claim']);
    expect(nested.sql).to.match(/WHERE id = .*1/);
    expect(nested.rows.map((r) => `${r.table}:${r.access}:${r.index}`)).to.deep.equal(['fx_queues:const:PRIMARY']);
    // Dynamic SQL: the statement EXECUTE ran, with the values bound.
    const claim = of('fx_claim', 'SELECT JSON_ARRAYAGG(id) INTO @fx_claim FROM (SELECT id FROM fx_jobs WHERE queue_id = ?')!;
    expect(claim.sql).to.match(/queue_id = 1 AND state = 0 AND ready_at <= '\d{4}-/);
    expect(claim.runs).to.equal(3);
    expect(claim.rows.find((r) => r.table === 'fx_jobs')).to.include({ access: 'range', index: 'ix_fx_jobs_claim', filesort: false });
    const local = of('fx_claim', 'SELECT t.id, t.payload FROM fx_jobs t WHERE t.worker = p_worker AND t.claimed_at = v_now')!;
    if (capture.server.flavour === 'mariadb') {
      expect(local.unexplained).to.equal(undefined);
      expect(local.rows[0]).to.include({ table: 'fx_jobs', alias: 't', access: 'ref', index: 'ix_fx_jobs_claim' });
    } else {
      // After READ COMMITTED MySQL logs rows, and shows no local variable's value.
      expect(local.unexplained).to.match(/value of v_now/);
      expect(result.warnings.join('\n')).to.contain('fx_claim: not explained');
    }
    expect(result.sizes.fx_jobs).to.equal(200_000);
    expect(result.lint.filter((f) => f.fails)).to.deep.equal([]);
  });

  it('a routine that filters an unindexed column of the large table fails, naming the routine, the statement and the table', async () => {
    const copy = copyFixture(FIXTURE);
    try {
      withUnindexedFilter(copy.dir);
      const result = await run(copy.dir);
      expect(result.ok).to.equal(false);
      const scan = result.violations.find((v) => v.rule === 'full-scan')!;
      expect(scan).to.include({ routine: 'fx_by_category', statement: 'SELECT COUNT(*) AS jobs FROM fx_jobs WHERE category = p_category', table: 'fx_jobs' });
      expect(scan.message).to.equal('fx_by_category: full table scan of fx_jobs (200,000 rows) in: SELECT COUNT(*) AS jobs FROM fx_jobs WHERE category = p_category');
      expect(renderFindings(result)).to.contain(`FAIL full-scan: ${scan.message}`);
      // Not in the plan file either: a new statement must be recorded deliberately.
      expect(result.diffs.map((d) => `${d.kind} ${d.routine} ${d.table}`)).to.deep.equal(['new fx_by_category fx_jobs']);
    } finally {
      copy.cleanup();
    }
  });

  it('dropping the index the claim uses fails the check with the plan change, before and after', async () => {
    const result = await run(FIXTURE, { beforeCalls: async (conn) => { await conn.query('DROP INDEX ix_fx_jobs_claim ON fx_jobs'); } });
    expect(result.ok).to.equal(false);
    const change = result.diffs.find((d) => d.routine === 'fx_claim' && d.table === 'fx_jobs' && d.select === 2)!;
    expect(change.kind).to.equal('changed');
    expect(change.before).to.deep.equal({ access: 'range', index: 'ix_fx_jobs_claim' });
    const text = renderDiff(change, capture.server.flavour);
    expect(text).to.contain('plan changed');
    expect(text).to.contain('statement: SELECT JSON_ARRAYAGG(id) INTO @fx_claim FROM (SELECT id FROM fx_jobs WHERE queue_id = ?');
    expect(text).to.contain('- recorded: range on ix_fx_jobs_claim');
    // Without the index the claim scans the table (in primary key order, or sorting all of it).
    const broken = result.violations.filter((v) => v.routine === 'fx_claim' && v.table === 'fx_jobs').map((v) => v.rule);
    expect(broken).to.satisfy((rules: string[]) => rules.includes('full-scan') || rules.includes('filesort'));
  });

  it('a scenario with empty statistics believes the tables empty, is held to the recorded plans of the routines it runs and never records', async () => {
    const copy = copyFixture(FIXTURE);
    try {
      const main = JSON.parse(fs.readFileSync(path.join(copy.dir, 'plans', 'scenarios.json'), 'utf8'));
      const file = path.join(copy.dir, 'plans', 'scenarios.empty-statistics.json');
      fs.writeFileSync(file, JSON.stringify({ ...main, statistics: 'empty', record: false, coverage: false, calls: ['fx_claim queue=1 worker=\'w1\' max=50'] }));
      const planFile = path.join(copy.dir, 'plans', 'plans.json');
      const before = fs.readFileSync(planFile, 'utf8');
      const result = await run(copy.dir, { scenarioFile: file, update: true });
      expect(result.statistics).to.equal('empty');
      const believed = new Map(result.emptyStatistics!.believedEmpty.map((t) => [t.table, t.rows]));
      expect([believed.get('fx_jobs'), believed.get('fx_queues')]).to.deep.equal([200_000, 4]);
      expect(believed.get('fx_job_events')).to.be.greaterThan(40_000);
      expect(result.updated).to.equal(false);
      expect(fs.readFileSync(planFile, 'utf8')).to.equal(before);
      // Only fx_claim (and fx_check_queue, which it calls) ran: fx_complete's rows are not "gone".
      expect(result.diffs.filter((d) => !['fx_claim', 'fx_check_queue'].includes(d.routine))).to.deep.equal([]);
      expect(result.violations.filter((v) => v.rule === 'coverage')).to.deep.equal([]);
      // The fixture's take is an unpinned STRAIGHT_JOIN by primary key, as claim_batch's were: believing
      // fx_jobs empty, both servers read all of it (a join buffer) instead of one lookup per claimed id.
      const take = result.diffs.find((d) => d.routine === 'fx_claim' && d.table === 'fx_jobs' && d.alias === 't')!;
      expect(take).to.deep.include({ kind: 'changed', before: { access: 'eq_ref', index: 'PRIMARY' } });
      expect(take.after!.access).to.equal('ALL');
      expect(result.ok).to.equal(false);
      expect(renderFindings(result)).to.contain('pin the statement to its recorded plan');
    } finally {
      copy.cleanup();
    }
  });

  it('a duplicate index fails the lint; a left prefix and an unused index are reported', async () => {
    const copy = copyFixture(FIXTURE);
    try {
      fs.writeFileSync(path.join(copy.dir, 'indexes', 'V0061__fx_jobs_lint.sql'),
        'CREATE INDEX ix_fx_jobs_claim_again ON fx_jobs (queue_id, state, ready_at);\nCREATE INDEX ix_fx_jobs_queue ON fx_jobs (queue_id);\n');
      const result = await run(copy.dir);
      expect(result.ok).to.equal(false);
      expect(result.lint.filter((f) => f.fails).map((f) => f.message)).to.deep.equal([
        'fx_jobs: index ix_fx_jobs_claim_again (queue_id, state, ready_at) duplicates ix_fx_jobs_claim (queue_id, state, ready_at): drop ix_fx_jobs_claim_again']);
      expect(result.lint.map((f) => `${f.kind} ${f.index}`)).to.include.members(['redundant ix_fx_jobs_queue', 'unused ix_fx_jobs_queue']);
    } finally {
      copy.cleanup();
    }
  });

  describe('reminderly-db plans', () => {
    it('--check exits 0 on the fixture and prints only the findings; the table shows access, index, rows and extras per routine', () => {
      const check = runCli(['plans', '--url', testServerUrl(), '--dir', FIXTURE, '--check']);
      expect(check.code, check.stderr + check.stdout).to.equal(0);
      expect(check.stdout).to.match(/^ok: (mysql|mariadb) /m);
      expect(check.stdout).not.to.contain('fx_check_queue\n');
      const json = runCli(['plans', '--url', testServerUrl(), '--dir', FIXTURE, '--json']);
      expect(json.code, json.stderr).to.equal(0);
      const report = JSON.parse(json.stdout);
      expect(report.ok).to.equal(true);
      const claim = report.routines.find((r: { routine: string }) => r.routine === 'fx_claim');
      expect(claim.statements[0].tables).to.deep.include({ select: 2, table: 'fx_jobs', access: 'range', index: 'ix_fx_jobs_claim',
        rows: claim.statements[0].tables[1].rows, filesort: false, temporary: false });
    });

    it('--update records a new statement; a rule it breaks needs a written exception, and then --check passes', () => {
      const copy = copyFixture(FIXTURE);
      try {
        withUnindexedFilter(copy.dir);
        const planFile = path.join(copy.dir, 'plans', 'plans.json');
        const update = runCli(['plans', '--url', testServerUrl(), '--dir', copy.dir, '--update']);
        expect(update.code, update.stderr).to.equal(1);
        expect(update.stdout).to.contain('fx_by_category: fx_jobs in "SELECT COUNT(*) AS jobs FROM fx_jobs WHERE category = p_category" breaks a rule: write why');
        const text = fs.readFileSync(planFile, 'utf8');
        expect(text).to.contain('"routine":"fx_by_category","statement":"SELECT COUNT(*) AS jobs FROM fx_jobs WHERE category = p_category","select":1,"table":"fx_jobs","access":"ALL","index":null,"exception":""');
        fs.writeFileSync(planFile, text.replace('"exception":""', '"exception":"a monthly report, run off-peak"'));
        const check = runCli(['plans', '--url', testServerUrl(), '--dir', copy.dir, '--check']);
        expect(check.code, check.stdout + check.stderr).to.equal(0);
        expect(check.stdout).to.match(/ok: .* 1 excepted/);
      } finally {
        copy.cleanup();
      }
    });
  });
});
