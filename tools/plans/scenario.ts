// The plan scenario (plans/scenarios.json): how to fill a throwaway database with realistic data,
// which routine calls to capture, in order, and the rules' settings.
//
//   {
//     "rules": { "fullScanRows": 1000, "hotPaths": ["claim_batch", "complete_batch"] },
//     "setup": [ { "sql": "INSERT ..." }, { "module": "tools/campaigns/generator.ts", "export": "generate", "options": {} } ],
//     "calls": [ "claim_batch campaign_id=(SELECT MIN(campaign_id) FROM campaign_sets) run_type='immediate' ...",
//                { "call": "complete_batch batch_id=(SELECT MAX(id) FROM batches) outcomes=(...)", "repeat": 2 } ],
//     "skip": { "campaign_set_create": "DDL only: creates a campaign's tables" }
//   }
//
// A scenario may also say "statistics": "empty" (InnoDB's statistics of every table reset to an
// empty table's after the setup, as a server restarted before it persisted them has them:
// statistics.ts), "record": false (its plans are never written by --update: they must equal the
// rows the recording scenario wrote for the routines it runs) and "coverage": false (it checks the
// routines it calls; the recording scenario covers every routine).
//
// A call is written like codegen's "-- @example" header lines: the routine, then name=value pairs
// whose values are SQL expressions (evaluated on the capture database just before the call, so a
// call can use what earlier calls left, e.g. the batch a claim made); parameters are named as in
// SQL or without their p_ prefix; a missing IN parameter is NULL, an OUT parameter gets a user
// variable. The header examples themselves are not reused: they are written for codegen's small
// sandbox, while plans need the large data set and an order (claim before complete).
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';
import { Connection, queryRows } from '../sql/connection';
import { splitTopLevel } from '../routines/header';
import { projectRoot } from '../project';

export interface Rules {
  /** A full table or index scan on a table with more rows than this fails (default 1000). */
  fullScanRows: number;
  /** Routines whose statements (and those of routines they call) may not filesort or use a temporary table. */
  hotPaths: string[];
}

export type SetupStep = { sql: string | string[] } | { module: string; export?: string; options?: unknown };

export interface ScenarioCall {
  /** The call as written, for messages. */
  text: string;
  routine: string;
  args: [string, string][];
  repeat: number;
}

/** Which statistics the calls run under: ANALYZE TABLE of every table, or an empty table's (statistics.ts). */
export type StatisticsMode = 'fresh' | 'empty';

export interface Scenario {
  file: string;
  rules: Rules;
  statistics: StatisticsMode;
  /** False: --update leaves the plan file alone and this scenario is held to the rows recorded for the routines it runs. */
  record: boolean;
  /** False: routines the calls do not reach are not required to run (another scenario covers them). */
  coverage: boolean;
  setup: SetupStep[];
  calls: ScenarioCall[];
  /** Routines not expected to run a statement in the scenario, with the reason. */
  skip: Map<string, string>;
}

export const DEFAULT_RULES: Rules = { fullScanRows: 1000, hotPaths: [] };

export function parseCall(text: string, where: string): ScenarioCall {
  let parts: string[];
  try {
    parts = splitTopLevel(text.trim(), /\s/);
  } catch (err) {
    throw new UserError(`${where}: ${(err as Error).message} in "${text}"`);
  }
  const routine = parts.shift();
  if (!routine || !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(routine)) throw new UserError(`${where}: a call starts with the routine's name, got "${text}"`);
  const args: [string, string][] = [];
  for (const part of parts) {
    const m = /^([A-Za-z_$][A-Za-z0-9_$]*)=([\s\S]+)$/.exec(part);
    if (!m) throw new UserError(`${where}: expected name=value, got "${part}"`);
    if (args.some(([n]) => n.toLowerCase() === m[1].toLowerCase())) throw new UserError(`${where}: ${m[1]} given twice`);
    args.push([m[1], m[2]]);
  }
  return { text: text.trim(), routine, args, repeat: 1 };
}

export function parseScenario(json: unknown, file: string): Scenario {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${file}: expected an object with "calls"`);
  const o = json as Record<string, unknown>;
  const rulesIn = (o.rules ?? {}) as Record<string, unknown>;
  const rules: Rules = {
    fullScanRows: rulesIn.fullScanRows === undefined ? DEFAULT_RULES.fullScanRows : Number(rulesIn.fullScanRows),
    hotPaths: Array.isArray(rulesIn.hotPaths) ? rulesIn.hotPaths.map(String) : [],
  };
  if (!Number.isInteger(rules.fullScanRows) || rules.fullScanRows < 0) throw new UserError(`${file}: rules.fullScanRows must be a whole number`);
  const setup: SetupStep[] = [];
  for (const [i, step] of ((o.setup ?? []) as unknown[]).entries()) {
    const s = step as Record<string, unknown>;
    if (typeof s?.sql === 'string' || Array.isArray(s?.sql)) setup.push({ sql: s.sql as string | string[] });
    else if (typeof s?.module === 'string') setup.push({ module: s.module, export: s.export as string | undefined, options: s.options });
    else throw new UserError(`${file}: setup[${i}] needs "sql" or "module"`);
  }
  if (!Array.isArray(o.calls) || o.calls.length === 0) throw new UserError(`${file}: "calls" must list at least one call`);
  const calls = o.calls.map((c, i) => {
    const where = `${file}: calls[${i}]`;
    if (typeof c === 'string') return parseCall(c, where);
    const obj = c as Record<string, unknown>;
    if (typeof obj?.call !== 'string') throw new UserError(`${where}: a call is a string or { "call": "...", "repeat": N }`);
    const call = parseCall(obj.call, where);
    const repeat = obj.repeat === undefined ? 1 : Number(obj.repeat);
    if (!Number.isInteger(repeat) || repeat < 1) throw new UserError(`${where}: repeat must be 1 or more`);
    return { ...call, repeat };
  });
  const skip = new Map<string, string>();
  for (const [routine, reason] of Object.entries((o.skip ?? {}) as Record<string, unknown>)) skip.set(routine.toLowerCase(), typeof reason === 'string' ? reason : '');
  const statistics = (o.statistics ?? 'fresh') as StatisticsMode;
  if (statistics !== 'fresh' && statistics !== 'empty') throw new UserError(`${file}: "statistics" must be "fresh" or "empty"`);
  for (const flag of ['record', 'coverage'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw new UserError(`${file}: "${flag}" must be true or false`);
  }
  return { file, rules, statistics, record: o.record !== false, coverage: o.coverage !== false, setup, calls, skip };
}

/**
 * The project's scenarios: plans/scenarios.json (the recording one) first, then every
 * plans/scenarios.<name>.json in name order. `only` picks one by <name> or file name.
 */
export function scenarioFiles(root: string, only?: string): string[] {
  const dir = path.join(root, 'plans');
  const extra = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^scenarios\.[^.]+\.json$/.test(f)).sort() : [];
  const files = ['scenarios.json', ...extra];
  if (only === undefined) return files.map((f) => path.join(dir, f));
  const wanted = files.find((f) => f === only || f === `scenarios.${only}.json` || (only === 'default' && f === 'scenarios.json'));
  if (!wanted) throw new UserError(`--scenario ${only}: no such scenario in ${dir} (there: ${files.join(', ')})`);
  return [path.join(dir, wanted)];
}

export function readScenario(file: string): Scenario {
  if (!fs.existsSync(file)) throw new UserError(`no plan scenario: ${file} (see tools/plans/README.md)`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(json, file);
}

/** What a setup module's function gets besides the connection and its options. */
export interface SetupContext {
  /** URL of the capture database (for tools that open their own connections, like the bulk loader). */
  url: string;
  root: string;
  log?: (line: string) => void;
}

/**
 * Loads a setup module named by a scenario (a .ts file of the checkout, usually). When the CLI runs
 * compiled (dist/), a module of this project is taken from its compiled twin, so that it shares the
 * toolkit's module instances (its UserError is the CLI's); any other .ts file goes through ts-node,
 * registered on first need.
 */
function requireSetupModule(file: string): Record<string, unknown> {
  let target = file;
  if (file.endsWith('.ts') && __filename.endsWith('.js')) {
    const root = projectRoot();
    const twin = path.join(root, 'dist', path.relative(root, file)).replace(/\.ts$/, '.js');
    if (!path.relative(root, file).startsWith('..') && fs.existsSync(twin)) target = twin;
    else if (!require.extensions['.ts']) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('ts-node') as typeof import('ts-node')).register({ transpileOnly: true, project: path.join(root, 'tsconfig.json') });
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(target) as Record<string, unknown>;
}

/** Runs the setup steps on `conn` (the capture database): SQL, or a module's function called with (conn, options, context). */
export async function runSetup(conn: Connection, scenario: Scenario, context: SetupContext): Promise<void> {
  const { root, log } = context;
  for (const step of scenario.setup) {
    if ('sql' in step) {
      for (const sql of Array.isArray(step.sql) ? step.sql : [step.sql]) await conn.query(sql);
      continue;
    }
    const file = path.resolve(root, step.module);
    if (!fs.existsSync(file)) throw new UserError(`${scenario.file}: setup module ${step.module} does not exist`);
    const mod = requireSetupModule(file);
    const fn = mod[step.export ?? 'default'];
    if (typeof fn !== 'function') throw new UserError(`${scenario.file}: ${step.module} exports no function "${step.export ?? 'default'}"`);
    log?.(`setup: ${step.module}${step.export ? `#${step.export}` : ''}`);
    await (fn as (c: Connection, o: unknown, x: SetupContext) => Promise<unknown>)(conn, step.options ?? {}, context);
  }
}

interface Param {
  name: string;
  mode: string;
}

/** The CALL statement for a scenario call: argument expressions evaluated now and written in as literals. */
export async function buildCall(conn: Connection, call: ScenarioCall, params: Param[] | undefined, where: string): Promise<string> {
  if (!params) throw new UserError(`${where}: no procedure ${call.routine} in the database`);
  const byName = new Map<string, number>();
  params.forEach((p, i) => {
    byName.set(p.name.toLowerCase(), i);
    if (/^p_/i.test(p.name)) byName.set(p.name.slice(2).toLowerCase(), i);
  });
  const exprs: (string | null)[] = params.map(() => null);
  for (const [name, expr] of call.args) {
    const i = byName.get(name.toLowerCase());
    if (i === undefined) throw new UserError(`${where}: ${call.routine} has no parameter "${name}" (parameters: ${params.map((p) => p.name).join(', ') || 'none'})`);
    if (params[i].mode === 'OUT') throw new UserError(`${where}: ${params[i].name} is an OUT parameter: it takes no value`);
    exprs[i] = expr;
  }
  const toEvaluate = exprs.map((e, i) => ({ e, i })).filter((x) => x.e !== null);
  const values = new Map<number, string>();
  if (toEvaluate.length) {
    let row: Record<string, unknown>;
    try {
      [row] = await queryRows<Record<string, unknown>>(conn, `SELECT ${toEvaluate.map((x) => `${x.e} AS a${x.i}`).join(', ')}`);
    } catch (err) {
      throw new UserError(`${where}: evaluating the arguments of ${call.routine} failed: ${(err as Error).message}`);
    }
    for (const { i } of toEvaluate) values.set(i, literal(conn, row[`a${i}`]));
  }
  const args = params.map((p, i) => (p.mode === 'OUT' || p.mode === 'INOUT' ? null : values.get(i) ?? 'NULL'));
  // OUT and INOUT parameters need a variable; an INOUT one starts with its given value.
  const setup: string[] = [];
  const finalArgs = args.map((a, i) => {
    if (a !== null) return a;
    const variable = `@plan_${params[i].name.toLowerCase()}`;
    if (params[i].mode === 'INOUT') setup.push(`SET ${variable} = ${values.get(i) ?? 'NULL'}`);
    return variable;
  });
  for (const s of setup) await conn.query(s);
  return `CALL ${call.routine}(${finalArgs.join(', ')})`;
}

function literal(conn: Connection, value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return value.length ? `X'${value.toString('hex')}'` : "''";
  if (value instanceof Date) return conn.escape(value);
  if (typeof value === 'object') return conn.escape(JSON.stringify(value));
  return conn.escape(String(value));
}
