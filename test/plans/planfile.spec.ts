import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { evaluate, ExplainedStatement } from '../../tools/plans/check';
import { PlanRow } from '../../tools/plans/explain';
import { lintIndexes } from '../../tools/plans/lint';
import { comparePlans, ExpectedRow, readPlanFile, renderDiff, renderPlanFile } from '../../tools/plans/planfile';
import { renderFindings } from '../../tools/plans/report';
import { parseCall, parseScenario, scenarioFiles } from '../../tools/plans/scenario';
import { describeServer } from '../../tools/sql/flavour';

const row = (over: Partial<ExpectedRow> = {}): ExpectedRow => ({
  routine: 'claim_batch', statement: 'SELECT id FROM campaign_N_ready_queue WHERE run_type_id = ?', select: 1,
  table: 'campaign_N_ready_queue', access: 'range', index: 'PRIMARY', ...over,
});

const planRow = (over: Partial<PlanRow> = {}): PlanRow => ({
  select: 1, table: 'campaign_N_ready_queue', kind: 'table', access: 'range', index: 'PRIMARY', indexes: ['PRIMARY'], rows: 100,
  filesort: false, temporary: false, physical: 'campaign_1_ready_queue', ...over,
});

const statement = (over: Partial<ExplainedStatement> = {}): ExplainedStatement => ({
  routine: 'claim_batch', calls: ['claim_batch'], fingerprint: 'SELECT id FROM campaign_N_ready_queue WHERE run_type_id = ?',
  sql: '', rows: [planRow()], runs: 1, ...over,
});

function tmpFile(name: string, text?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plans-spec-'));
  const file = path.join(dir, name);
  if (text !== undefined) fs.writeFileSync(file, text);
  return file;
}

describe('plans: plan file, rules, lint, scenario (pure)', () => {
  describe('plan file', () => {
    it('compares recorded and seen rows: changed, new and gone, with a readable before/after', () => {
      const diffs = comparePlans(
        [row(), row({ table: 'batches', statement: 'SELECT 1 FROM batches', access: 'const' })],
        [row({ access: 'ALL', index: null }), row({ table: 'contacts', statement: 'SELECT 2 FROM contacts', access: 'ref', index: 'ix_contacts_company' })]);
      expect(diffs.map((d) => d.kind)).to.have.members(['changed', 'new', 'gone']);
      const changed = diffs.find((d) => d.kind === 'changed')!;
      expect(renderDiff(changed, 'mariadb')).to.equal([
        'plan changed [mariadb]: routine claim_batch, table campaign_N_ready_queue',
        '    statement: SELECT id FROM campaign_N_ready_queue WHERE run_type_id = ?',
        '    - recorded: range on PRIMARY',
        '    + now:      ALL (full table scan), no index',
      ].join('\n'));
    });

    it('renders one row per line, sorted, and reads back what it wrote', () => {
      const text = renderPlanFile({ mariadb: [row({ routine: 'b' }), row({ routine: 'a', exception: 'tiny table' })], mysql: [] });
      const lines = text.split('\n');
      expect(lines.filter((l) => l.startsWith('    {'))).to.have.length(2);
      expect(lines.findIndex((l) => l.includes('"routine":"a"'))).to.be.lessThan(lines.findIndex((l) => l.includes('"routine":"b"')));
      const file = tmpFile('plans.json', text);
      expect(readPlanFile(file).mariadb).to.deep.equal([row({ routine: 'a', exception: 'tiny table' }), row({ routine: 'b' })]);
    });

    it('refuses a malformed file naming the row', () => {
      expect(() => readPlanFile(tmpFile('p.json', '{"mysql": [{"routine": "x"}]}'))).to.throw(/mysql\[0\]: a row needs/);
      expect(() => readPlanFile(tmpFile('p.json', '{"mysql": [{"routine":"x","statement":"s","table":"t","access":"ALL","select":1,"index":null,"exception":true}]}')))
        .to.throw(/exception.*written reason/);
      expect(() => readPlanFile(tmpFile('p.json', 'nope'))).to.throw(/not valid JSON/);
      expect(readPlanFile(tmpFile('absent.json'))).to.deep.equal({});
    });
  });

  describe('rules', () => {
    const server = describeServer('10.11.19-MariaDB', false);
    const scenario = parseScenario({ rules: { fullScanRows: 1000, hotPaths: ['claim_batch'] }, calls: ['claim_batch'] }, 'scenarios.json');
    const run = (statements: ExplainedStatement[], recorded: ExpectedRow[], sizes: Record<string, number>, extra: Partial<Parameters<typeof evaluate>[0]> = {}) =>
      evaluate({
        options: { url: '', server, root: '.', ...(extra.options ?? {}) }, scenario, recorded: { mariadb: recorded }, planFile: tmpFile('plans.json'),
        statements, sizes, routines: ['claim_batch'], lint: [], database: 'db', ...extra,
      });

    it('passes a statement whose plan is recorded and breaks no rule', () => {
      const result = run([statement()], [row()], { campaign_1_ready_queue: 200_000 });
      expect(result.ok).to.equal(true);
      expect(result.violations).to.deep.equal([]);
    });

    it('fails a full scan of a large table, naming routine, statement and table; a small table may be scanned', () => {
      const scan = statement({ rows: [planRow({ access: 'ALL', index: null })] });
      const recorded = [row({ access: 'ALL', index: null })];
      const big = run([scan], recorded, { campaign_1_ready_queue: 200_000 });
      expect(big.ok).to.equal(false);
      expect(big.violations.map((v) => v.message)).to.deep.equal([
        'claim_batch: full table scan of campaign_N_ready_queue (200,000 rows) in: SELECT id FROM campaign_N_ready_queue WHERE run_type_id = ?']);
      expect(run([scan], recorded, { campaign_1_ready_queue: 999 }).ok).to.equal(true);
    });

    it('fails filesort and temporary tables on a hot path only, nested routines included', () => {
      const sorted = (calls: string[]) => statement({ routine: 'pipeline_check_campaign', calls, rows: [planRow({ filesort: true, temporary: true })] });
      const recorded = [row({ routine: 'pipeline_check_campaign' })];
      const routines = ['pipeline_check_campaign'];
      const hot = run([sorted(['claim_batch'])], recorded, {}, { routines });
      expect(hot.violations.map((v) => v.rule)).to.deep.equal(['filesort', 'temporary']);
      expect(hot.violations[0].message).to.contain('on the claim_batch path');
      expect(run([sorted(['campaign_summary'])], recorded, {}, { routines }).violations).to.deep.equal([]);
    });

    it('an exception with a reason lets a row break a rule; without a reason it fails', () => {
      const scan = statement({ rows: [planRow({ access: 'ALL', index: null })] });
      const excused = run([scan], [row({ access: 'ALL', index: null, exception: 'the queue holds only unfinished messages' })], { campaign_1_ready_queue: 5000 });
      expect(excused.ok).to.equal(true);
      expect(excused.violations[0].excepted).to.equal('the queue holds only unfinished messages');
      const bare = run([scan], [row({ access: 'ALL', index: null, exception: ' ' })], { campaign_1_ready_queue: 5000 });
      expect(bare.ok).to.equal(false);
      expect(bare.violations.map((v) => v.rule)).to.include('exception-reason');
    });

    it('a plan that differs from the file fails; --update rewrites the file, keeps reasons and asks for missing ones', () => {
      const planFile = tmpFile('plans.json');
      const scan = statement({ rows: [planRow({ access: 'ALL', index: null })] });
      const changed = run([scan], [row()], { campaign_1_ready_queue: 5000 }, { planFile });
      expect(changed.diffs.map((d) => d.kind)).to.deep.equal(['changed']);
      const updated = run([scan], [row()], { campaign_1_ready_queue: 5000 }, { planFile, options: { url: '', server, root: '.', update: true } });
      expect(updated.updated).to.equal(true);
      expect(updated.diffs).to.deep.equal([]);
      expect(readPlanFile(planFile).mariadb).to.deep.equal([row({ access: 'ALL', index: null, exception: '' })]);
      expect(updated.ok).to.equal(false);
      expect(updated.violations.map((v) => v.rule)).to.include('exception-reason');
    });

    it('every routine ran a statement or is skipped with a reason', () => {
      const uncovered = run([statement()], [row()], {}, { routines: ['claim_batch', 'campaign_table_name'] });
      expect(uncovered.violations.map((v) => v.message)).to.deep.equal([
        'campaign_table_name ran no statement in the plan scenario: add a call to scenarios.json, or list it under "skip" with the reason']);
      const skipping = parseScenario({ calls: ['claim_batch'], skip: { campaign_table_name: 'its only query is an IF EXISTS' } }, 'scenarios.json');
      expect(run([statement()], [row()], {}, { routines: ['claim_batch', 'campaign_table_name'], scenario: skipping }).ok).to.equal(true);
    });

    it('a scenario that does not record is held to the rows recorded for the routines it ran, and --update leaves the file alone', () => {
      const planFile = tmpFile('plans.json');
      const stale = parseScenario({ statistics: 'empty', record: false, coverage: false, rules: { hotPaths: ['claim_batch'] }, calls: ['claim_batch'] },
        'scenarios.empty-statistics.json');
      // Rows of routines it did not run (campaign_summary) are neither compared nor required.
      const recorded = [row(), row({ routine: 'campaign_summary', statement: 'SELECT COUNT(*) FROM campaign_N_messages', access: 'index' })];
      const routines = ['claim_batch', 'campaign_summary'];
      const same = run([statement()], recorded, { campaign_1_ready_queue: 30_000 }, { scenario: stale, routines });
      expect(same.ok).to.equal(true);
      expect(same).to.include({ record: false, statistics: 'empty', scenarioFile: 'scenarios.empty-statistics.json' });
      expect(renderFindings(same)).to.match(/^ok: mariadb 10\.11\.19, scenarios\.empty-statistics\.json \(empty statistics\), 1 statements/m);
      const scan = statement({ rows: [planRow({ access: 'ALL', index: null })] });
      const misled = run([scan], recorded, { campaign_1_ready_queue: 30_000 }, { scenario: stale, routines, planFile, options: { url: '', server, root: '.', update: true } });
      expect(misled.ok).to.equal(false);
      expect(misled.updated).to.equal(false);
      expect(fs.existsSync(planFile)).to.equal(false);
      expect(misled.diffs.map((d) => `${d.kind} ${d.routine} ${d.before?.access} -> ${d.after?.access}`)).to.deep.equal(['changed claim_batch range -> ALL']);
      expect(misled.violations.map((v) => v.rule)).to.deep.equal(['full-scan']);
      expect(renderFindings(misled)).to.contain('held to the plans recorded in');
      expect(renderFindings(misled)).not.to.contain('--update');
    });
  });

  describe('index lint', () => {
    const ix = (table: string, name: string, columns: string[], unique = false) => ({ table, name, columns, unique });
    it('fails duplicates, reports left prefixes and unused indexes, campaign sets once per kind', () => {
      const findings = lintIndexes([
        ix('campaign_1_messages', 'PRIMARY', ['id'], true),
        ix('campaign_1_messages', 'ix_c1_messages_contact', ['company_id', 'contact_id']),
        ix('campaign_1_messages', 'ix_c1_messages_company', ['company_id']),
        ix('campaign_1_messages', 'ix_c1_messages_contact2', ['company_id', 'contact_id']),
        ix('campaign_2_messages', 'PRIMARY', ['id'], true),
        ix('campaign_2_messages', 'ix_c2_messages_contact', ['company_id', 'contact_id']),
        ix('campaign_2_messages', 'ix_c2_messages_company', ['company_id']),
        ix('campaign_2_messages', 'ix_c2_messages_contact2', ['company_id', 'contact_id']),
        ix('batches', 'PRIMARY', ['id'], true),
        ix('batches', 'ix_batches_id', ['id']),
      ], new Set(['campaign_N_messages\u0000ix_cN_messages_contact']));
      expect(findings.filter((f) => f.fails).map((f) => f.message)).to.deep.equal([
        'batches: index ix_batches_id (id) duplicates PRIMARY (id): drop ix_batches_id',
        'campaign_N_messages: index ix_cN_messages_contact2 (company_id, contact_id) duplicates ix_cN_messages_contact (company_id, contact_id): drop ix_cN_messages_contact2',
      ]);
      expect(findings.filter((f) => f.kind === 'redundant').map((f) => f.index)).to.deep.equal(['ix_cN_messages_company']);
      expect(findings.filter((f) => f.kind === 'unused').map((f) => `${f.table}.${f.index}`)).to.deep.equal([
        'batches.ix_batches_id', 'campaign_N_messages.ix_cN_messages_company', 'campaign_N_messages.ix_cN_messages_contact2']);
    });

    it('a unique index with the columns of a plain one keeps the unique one; unused notes say why an index may stay', () => {
      const findings = lintIndexes([ix('t', 'uq_code', ['code'], true), ix('t', 'ix_code', ['code']), ix('t', 'ix_fk', ['parent_id'])], new Set(),
        new Map([['t', [{ name: 'fk_t_parent', columns: ['parent_id'] }]]]));
      expect(findings.find((f) => f.kind === 'duplicate')).to.include({ index: 'ix_code', other: 'uq_code' });
      expect(findings.find((f) => f.kind === 'unused' && f.index === 'uq_code')!.message).to.contain('enforces uniqueness');
      expect(findings.find((f) => f.kind === 'unused' && f.index === 'ix_fk')!.message).to.contain('foreign key fk_t_parent');
    });
  });

  describe('scenario', () => {
    it('reads calls written like codegen examples', () => {
      expect(parseCall("claim_batch campaign_id=(SELECT MIN(id) FROM campaigns) run_type='immediate now' max_rows=100", 'x')).to.deep.equal({
        text: "claim_batch campaign_id=(SELECT MIN(id) FROM campaigns) run_type='immediate now' max_rows=100", routine: 'claim_batch', repeat: 1,
        args: [['campaign_id', '(SELECT MIN(id) FROM campaigns)'], ['run_type', "'immediate now'"], ['max_rows', '100']],
      });
      expect(() => parseCall('claim_batch max_rows', 'calls[0]')).to.throw(/calls\[0\]: expected name=value/);
      expect(() => parseCall('x a=1 A=2', 'calls[0]')).to.throw(/given twice/);
    });

    it('reads rules, setup, repeats and skips, refusing what it cannot use', () => {
      const s = parseScenario({ rules: { fullScanRows: 50, hotPaths: ['a'] }, setup: [{ sql: 'SELECT 1' }, { module: 'm.ts', export: 'f' }],
        calls: ['a x=1', { call: 'b', repeat: 3 }], skip: { C: 'why' } }, 'f.json');
      expect(s.rules).to.deep.equal({ fullScanRows: 50, hotPaths: ['a'] });
      expect(s.calls.map((c) => [c.routine, c.repeat])).to.deep.equal([['a', 1], ['b', 3]]);
      expect([...s.skip]).to.deep.equal([['c', 'why']]);
      expect(() => parseScenario({ calls: [] }, 'f.json')).to.throw(/at least one call/);
      expect(() => parseScenario({ calls: ['a'], setup: [{}] }, 'f.json')).to.throw(/setup\[0\]/);
      expect(() => parseScenario({ calls: [{ call: 'a', repeat: 0 }] }, 'f.json')).to.throw(/repeat/);
      expect(s).to.include({ statistics: 'fresh', record: true, coverage: true });
      expect(() => parseScenario({ calls: ['a'], statistics: 'stale' }, 'f.json')).to.throw(/"statistics" must be "fresh" or "empty"/);
      expect(() => parseScenario({ calls: ['a'], record: 'no' }, 'f.json')).to.throw(/"record" must be true or false/);
    });

    it('lists the project\'s scenarios, the recording one first, and picks one by name', () => {
      const root = path.dirname(path.dirname(tmpFile('plans/x')));
      fs.mkdirSync(path.join(root, 'plans'), { recursive: true });
      for (const f of ['scenarios.json', 'scenarios.zz-later.json', 'scenarios.empty-statistics.json', 'plans.json', 'scenarios.a.b.json']) {
        fs.writeFileSync(path.join(root, 'plans', f), '{}');
      }
      expect(scenarioFiles(root).map((f) => path.basename(f))).to.deep.equal(['scenarios.json', 'scenarios.empty-statistics.json', 'scenarios.zz-later.json']);
      expect(scenarioFiles(root, 'empty-statistics').map((f) => path.basename(f))).to.deep.equal(['scenarios.empty-statistics.json']);
      expect(scenarioFiles(root, 'default').map((f) => path.basename(f))).to.deep.equal(['scenarios.json']);
      expect(() => scenarioFiles(root, 'nope')).to.throw(/--scenario nope: no such scenario .* \(there: scenarios\.json, scenarios\.empty-statistics\.json, scenarios\.zz-later\.json\)/);
    });
  });
});
