// The plan check: migrate a throwaway database from the project, fill it (the scenario's setup),
// run the scenario's calls with capture on, EXPLAIN every captured statement, and hold the plans
// against the rules, the committed plan file and the index lint.
import path from 'path';
import { createThrowawayDatabase } from '../harness/database';
import { migrateUp, assertMigrated } from '../migrate/migrator';
import { connect, Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { ServerInfo } from '../sql/flavour';
import { CapturedStatement, openCapture } from './capture';
import { createRoutineTemporaryTables, explainStatement, PlanRow, prepareExplainSession } from './explain';
import { lintIndexes, LintFinding, readForeignKeys, readIndexes } from './lint';
import { scanKind } from './normalise';
import {
  comparePlans, ExpectedRow, PlanDiff, PlanFile, readPlanFile, renderPlanFile, rowKey,
} from './planfile';
import { buildCall, readScenario, Rules, runSetup, Scenario } from './scenario';
import { EmptyStatisticsReport, resetStatisticsToEmpty } from './statistics';
import fs from 'fs';

export interface ExplainedStatement {
  routine: string;
  /** The scenario calls (top-level routines) it ran under. */
  calls: string[];
  fingerprint: string;
  /** What was explained (or, when unexplained, the captured text). */
  sql: string;
  rows: PlanRow[];
  /** How many times the scenario ran it. */
  runs: number;
  unexplained?: string;
}

export type RuleName = 'full-scan' | 'filesort' | 'temporary' | 'exception-reason' | 'coverage' | 'explain';

export interface Violation {
  rule: RuleName;
  routine: string;
  statement?: string;
  table?: string;
  message: string;
  /** The plan file's reason when the row is excepted (then it does not fail). */
  excepted?: string;
}

export interface CheckOptions {
  /** Capture server URL (no database needed). */
  url: string;
  server: ServerInfo;
  /** MariaDB: the private server's slow log file. */
  slowLogFile?: string;
  /** Project folder with schema/, indexes/, procedures/ and plans/ (default: this package). */
  root: string;
  planFile?: string;
  scenarioFile?: string;
  /** Rewrite this flavour's section of the plan file with what was seen. */
  update?: boolean;
  /** Leave the throwaway database in place (for a look after a failure). */
  keepDatabase?: boolean;
  log?: (line: string) => void;
  /** Called after migration and setup, before the calls: tests use it to change the database. */
  beforeCalls?: (conn: Connection) => Promise<void>;
}

export interface CheckResult {
  /** The scenario file this result is of. */
  scenarioFile: string;
  /** False: the scenario is held to the plan file and never writes it. */
  record: boolean;
  /** The statistics the calls ran under; for "empty", what the reset left the optimiser believing. */
  statistics: Scenario['statistics'];
  emptyStatistics?: EmptyStatisticsReport;
  flavour: ServerInfo['flavour'];
  version: string;
  database: string;
  statements: ExplainedStatement[];
  violations: Violation[];
  diffs: PlanDiff[];
  lint: LintFinding[];
  /** Table sizes used by the full-scan rule, by physical table. */
  sizes: Record<string, number>;
  warnings: string[];
  planFile: string;
  updated: boolean;
  ok: boolean;
}

export async function checkPlans(options: CheckOptions): Promise<CheckResult> {
  const root = path.resolve(options.root);
  const planFile = options.planFile ?? path.join(root, 'plans', 'plans.json');
  const scenario = readScenario(options.scenarioFile ?? path.join(root, 'plans', 'scenarios.json'));
  const recorded = readPlanFile(planFile);
  const log = options.log ?? (() => undefined);
  const db = await createThrowawayDatabase('plans', options.url);
  try {
    log(`migrating ${db.name} from ${root}`);
    assertMigrated(await migrateUp({ url: db.url, root, quiet: true }));
    const work = await connect(db.url);
    const explainConn = await connect(db.url);
    try {
      await runSetup(work, scenario, { url: db.url, root, log });
      await analyzeAll(work, db.name);
      let emptyStatistics: EmptyStatisticsReport | undefined;
      if (scenario.statistics === 'empty') {
        emptyStatistics = await resetStatisticsToEmpty(work, options.server, db.name);
        log(`statistics of ${emptyStatistics.tables} tables reset to an empty table's; the optimiser believes ${emptyStatistics.believedEmpty.length} tables with rows empty`);
      }
      if (options.beforeCalls) await options.beforeCalls(work);
      await prepareExplainSession(explainConn, options.server);
      await createRoutineTemporaryTables(explainConn, db.name);
      const statements = await runCalls(work, explainConn, options, scenario, db.name, log);
      const sizes = await tableSizes(explainConn, statements);
      const indexes = await readIndexes(explainConn, db.name);
      const foreignKeys = await readForeignKeys(explainConn, db.name);
      const routines = await queryRows<{ name: string }>(explainConn,
        'SELECT ROUTINE_NAME AS name FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME', [db.name]);
      return {
        ...evaluate({
          options, scenario, recorded, planFile, statements, sizes, routines: routines.map((r) => r.name),
          // The index lint is about the schema, the same in every scenario: the covering one runs it.
          lint: scenario.coverage ? lintIndexes(indexes, usedIndexes(statements), foreignKeys) : [], database: db.name,
        }),
        ...(emptyStatistics ? { emptyStatistics } : {}),
      };
    } finally {
      await work.end().catch(() => work.destroy());
      await explainConn.end().catch(() => explainConn.destroy());
    }
  } finally {
    if (!options.keepDatabase) await db.drop();
    else log(`kept database ${db.name}`);
  }
}

/** Fresh statistics, so that plans do not depend on when InnoDB last sampled the tables. */
async function analyzeAll(conn: Connection, database: string): Promise<void> {
  const tables = await queryRows<{ name: string }>(conn,
    "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [database]);
  for (let i = 0; i < tables.length; i += 50) {
    const list = tables.slice(i, i + 50).map((t) => quoteIdentifier(t.name)).join(', ');
    if (list) await conn.query(`ANALYZE TABLE ${list}`);
  }
}

async function runCalls(work: Connection, explainConn: Connection, options: CheckOptions, scenario: Scenario, database: string,
  log: (line: string) => void): Promise<ExplainedStatement[]> {
  const params = await queryRows<{ routine: string; name: string; mode: string }>(work,
    `SELECT r.ROUTINE_NAME AS routine, p.PARAMETER_NAME AS name, p.PARAMETER_MODE AS mode
       FROM information_schema.ROUTINES r LEFT JOIN information_schema.PARAMETERS p
         ON p.SPECIFIC_SCHEMA = r.ROUTINE_SCHEMA AND p.SPECIFIC_NAME = r.ROUTINE_NAME AND p.ORDINAL_POSITION > 0 AND p.ROUTINE_TYPE = 'PROCEDURE'
      WHERE r.ROUTINE_SCHEMA = ? AND r.ROUTINE_TYPE = 'PROCEDURE' ORDER BY r.ROUTINE_NAME, p.ORDINAL_POSITION`, [database]);
  const signatures = new Map<string, { name: string; mode: string }[]>();
  for (const p of params) {
    const list = signatures.get(p.routine.toLowerCase()) ?? [];
    if (p.name) list.push({ name: p.name, mode: (p.mode ?? 'IN').toUpperCase() });
    signatures.set(p.routine.toLowerCase(), list);
  }
  const session = await openCapture(work, options.server, { slowLogFile: options.slowLogFile });
  const seen = new Map<string, ExplainedStatement>();
  const out: ExplainedStatement[] = [];
  for (const [n, call] of scenario.calls.entries()) {
    for (let r = 0; r < call.repeat; r++) {
      const where = `${path.basename(scenario.file)}: calls[${n}] (${call.routine})`;
      const sql = await buildCall(work, call, signatures.get(call.routine.toLowerCase()), where);
      log(`call ${sql.length > 140 ? sql.slice(0, 139) + '…' : sql}`);
      let captured: CapturedStatement[];
      try {
        captured = await session.capture(sql);
      } catch (err) {
        throw Object.assign(new Error(`${where}: ${(err as Error).message}`), { cause: err });
      }
      // EXPLAIN right away: the data is as the call left it.
      for (const s of captured) {
        const key = `${s.routine}\u0000${s.fingerprint}`;
        const known = seen.get(key);
        if (known) {
          known.runs++;
          if (!known.calls.includes(call.routine)) known.calls.push(call.routine);
          continue;
        }
        const entry: ExplainedStatement = { routine: s.routine, calls: [call.routine], fingerprint: s.fingerprint, sql: s.explainSql ?? s.text, rows: [], runs: 1 };
        if (s.explainSql === null) entry.unexplained = s.unexplained ?? 'not explainable';
        else if (readsDataDictionary(s.explainSql)) {
          // MySQL plans information_schema views over its own dictionary tables and picks between
          // equivalent dictionary indexes from run to run: none of it is ours to index.
          entry.unexplained = 'reads the server\'s data dictionary (information_schema), whose plans are the server\'s own';
        } else {
          try {
            entry.rows = await explainStatement(explainConn, options.server, s.explainSql);
          } catch (err) {
            entry.unexplained = `EXPLAIN failed: ${(err as Error).message}`;
          }
        }
        seen.set(key, entry);
        out.push(entry);
      }
    }
  }
  return out;
}

export function readsDataDictionary(sql: string): boolean {
  return /\binformation_schema\s*\./i.test(sql);
}

async function tableSizes(conn: Connection, statements: ExplainedStatement[]): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const s of statements) {
    for (const r of s.rows) {
      if (!r.physical || r.physical in sizes) continue;
      try {
        const [row] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${quoteIdentifier(r.physical)}`);
        sizes[r.physical] = Number(row.n);
      } catch {
        sizes[r.physical] = -1;
      }
    }
  }
  return sizes;
}

function usedIndexes(statements: ExplainedStatement[]): Set<string> {
  const used = new Set<string>();
  for (const s of statements) for (const r of s.rows) if (r.kind === 'table') for (const ix of r.indexes) used.add(`${r.table}\u0000${ix}`);
  return used;
}

/** The rows the plan file records for what was seen. */
export function expectedRows(statements: ExplainedStatement[]): ExpectedRow[] {
  const rows = new Map<string, ExpectedRow>();
  for (const s of statements) {
    for (const r of s.rows) {
      const row: ExpectedRow = { routine: s.routine, statement: s.fingerprint, select: r.select, table: r.table, ...(r.alias ? { alias: r.alias } : {}), access: r.access, index: r.index };
      const key = rowKey(row);
      if (!rows.has(key)) rows.set(key, row);
    }
  }
  return [...rows.values()];
}

interface EvaluateInput {
  options: CheckOptions;
  scenario: Scenario;
  recorded: PlanFile;
  planFile: string;
  statements: ExplainedStatement[];
  sizes: Record<string, number>;
  routines: string[];
  lint: LintFinding[];
  database: string;
}

/** Rules, plan file and coverage: pure, given what was captured and explained. */
export function evaluate(input: EvaluateInput): CheckResult {
  const { options, scenario, recorded, planFile, statements, sizes } = input;
  const flavour = options.server.flavour;
  // A scenario that does not record is held to the rows recorded for the routines it ran.
  const ran = new Set(statements.map((st) => st.routine));
  const recordedRows = (recorded[flavour] ?? []).filter((r) => scenario.record || ran.has(r.routine));
  const exceptions = new Map(recordedRows.filter((r) => r.exception !== undefined).map((r) => [rowKey(r), r.exception!]));
  const violations = ruleViolations(statements, sizes, scenario.rules, exceptions);
  const warnings: string[] = [];
  for (const s of statements) if (s.unexplained) warnings.push(`${s.routine}: not explained: ${s.unexplained}: ${s.fingerprint}`);

  // Coverage: every routine ran a statement in the scenario (or was called by it, for a routine
  // that only checks its arguments and calls another), or the scenario says why not.
  const covered = new Set([...statements.map((s) => s.routine.toLowerCase()), ...scenario.calls.map((c) => c.routine.toLowerCase())]);
  for (const routine of input.routines) {
    const reason = scenario.skip.get(routine.toLowerCase());
    if (!scenario.coverage || covered.has(routine.toLowerCase())) continue;
    if (reason === undefined) {
      violations.push({ rule: 'coverage', routine, message: `${routine} ran no statement in the plan scenario: add a call to ${path.basename(scenario.file)}, or list it under "skip" with the reason` });
    } else if (!reason.trim()) {
      violations.push({ rule: 'coverage', routine, message: `${routine} is skipped in ${path.basename(scenario.file)} without a written reason` });
    }
  }
  for (const [key, reason] of exceptions) {
    if (!reason.trim()) {
      const [routine, statement, , table] = key.split('\u0000');
      violations.push({ rule: 'exception-reason', routine, statement, table, message: `${routine}: the exception for ${table} in "${statement}" has no written reason (${path.basename(planFile)})` });
    }
  }

  const actual = expectedRows(statements);
  let diffs = comparePlans(recordedRows, actual);
  let updated = false;
  if (options.update && scenario.record) {
    const violating = new Set(violations.filter((v) => !v.excepted && v.statement && v.table && (v.rule === 'full-scan' || v.rule === 'filesort' || v.rule === 'temporary'))
      .map((v) => `${v.routine}\u0000${v.statement}\u0000${v.table}`));
    const rows = actual.map((r) => {
      const exception = exceptions.get(rowKey(r)) ?? (violating.has(`${r.routine}\u0000${r.statement}\u0000${r.alias ?? r.table}`) ? '' : undefined);
      return exception === undefined ? r : { ...r, exception };
    });
    const next: PlanFile = { ...recorded, [flavour]: rows };
    const text = renderPlanFile(next);
    const before = fs.existsSync(planFile) ? fs.readFileSync(planFile, 'utf8') : '';
    if (text !== before) {
      fs.mkdirSync(path.dirname(planFile), { recursive: true });
      fs.writeFileSync(planFile, text);
      updated = true;
    }
    diffs = [];
    for (const r of rows) {
      if (r.exception === '' && !exceptions.has(rowKey(r))) {
        violations.push({ rule: 'exception-reason', routine: r.routine, statement: r.statement, table: r.alias ?? r.table,
          message: `${r.routine}: ${r.table} in "${r.statement}" breaks a rule: write why in its "exception" in ${path.basename(planFile)}, or fix the plan` });
      }
    }
  }
  const failing = violations.filter((v) => !v.excepted);
  const ok = failing.length === 0 && diffs.length === 0 && !input.lint.some((f) => f.fails);
  return {
    scenarioFile: scenario.file, record: scenario.record, statistics: scenario.statistics,
    flavour, version: options.server.version, database: input.database, statements, violations, diffs, lint: input.lint, sizes,
    warnings, planFile, updated, ok,
  };
}

function ruleViolations(statements: ExplainedStatement[], sizes: Record<string, number>, rules: Rules, exceptions: Map<string, string>): Violation[] {
  const out: Violation[] = [];
  const hot = new Set(rules.hotPaths.map((r) => r.toLowerCase()));
  for (const s of statements) {
    const hotCall = [s.routine, ...s.calls].find((c) => hot.has(c.toLowerCase()));
    for (const r of s.rows) {
      const key = rowKey({ routine: s.routine, statement: s.fingerprint, select: r.select, table: r.table, ...(r.alias ? { alias: r.alias } : {}) });
      const reason = exceptions.get(key);
      const excepted = reason && reason.trim() ? reason : undefined;
      const tableName = `${r.table}${r.alias ? ` AS ${r.alias}` : ''}`;
      const base = { routine: s.routine, statement: s.fingerprint, table: r.alias ?? r.table, ...(excepted ? { excepted } : {}) };
      const scan = r.kind === 'table' && r.write !== 'insert' ? scanKind(r.access) : null;
      const size = r.physical ? sizes[r.physical] : undefined;
      if (scan && size !== undefined && size > rules.fullScanRows) {
        out.push({ ...base, rule: 'full-scan',
          message: `${s.routine}: full ${scan} scan of ${tableName} (${size.toLocaleString('en-US')} rows${r.index ? `, index ${r.index}` : ''}) in: ${s.fingerprint}` });
      }
      if (hotCall && r.filesort) {
        out.push({ ...base, rule: 'filesort', message: `${s.routine}: filesort at ${tableName} on the ${hotCall} path in: ${s.fingerprint}` });
      }
      if (hotCall && r.temporary) {
        out.push({ ...base, rule: 'temporary', message: `${s.routine}: temporary table at ${tableName} on the ${hotCall} path in: ${s.fingerprint}` });
      }
    }
  }
  return out;
}
