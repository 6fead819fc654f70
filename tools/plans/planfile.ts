// The committed plan file (plans/plans.json): for each server flavour, the expected plan of every
// table access of every statement the routines run — routine, statement fingerprint, table,
// access type, index — and, where a rule is knowingly broken, the written reason.
import fs from 'fs';
import { UserError } from '../errors';
import { SERVER_FLAVOURS, ServerFlavour } from '../sql/flavour';

export interface ExpectedRow {
  routine: string;
  /** The statement's fingerprint (tools/plans/sqltext.ts). */
  statement: string;
  /** select_id of the query block (subqueries and derived tables have their own). */
  select: number;
  table: string;
  alias?: string;
  access: string;
  index: string | null;
  /** Why this row may break a rule (full scan, filesort or temporary table on a hot path). Must not be empty. */
  exception?: string;
}

/** The about line, then a list of rows per server flavour. */
export type PlanFile = { about?: string } & Partial<Record<ServerFlavour, ExpectedRow[]>>;

export const PLAN_FILE_ABOUT = 'Expected plans of every statement the routines run, per server (reminderly-db plans). '
  + 'Rewrite with `reminderly-db plans --update` after a deliberate change and review the diff; '
  + 'a row may carry "exception": "<why this full scan, filesort or temporary table is acceptable>".';

export function rowKey(r: { routine: string; statement: string; select: number; table: string; alias?: string }): string {
  return [r.routine, r.statement, r.select, r.alias ?? r.table].join('\u0000');
}

export function readPlanFile(file: string): PlanFile {
  if (!fs.existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`${file}: expected an object with ${SERVER_FLAVOURS.map((f) => `"${f}"`).join(' and ')} lists`);
  }
  const plan = parsed as PlanFile;
  for (const flavour of SERVER_FLAVOURS) {
    const rows = plan[flavour];
    if (rows === undefined) continue;
    if (!Array.isArray(rows)) throw new UserError(`${file}: "${flavour}" must be a list of rows`);
    rows.forEach((r, i) => {
      const at = `${file}: ${flavour}[${i}]`;
      if (!r || typeof r.routine !== 'string' || typeof r.statement !== 'string' || typeof r.table !== 'string' || typeof r.access !== 'string') {
        throw new UserError(`${at}: a row needs routine, statement, table and access`);
      }
      if (typeof r.select !== 'number') throw new UserError(`${at}: "select" must be the query block number`);
      if (r.index !== null && typeof r.index !== 'string') throw new UserError(`${at}: "index" must be an index name or null`);
      if (r.exception !== undefined && typeof r.exception !== 'string') throw new UserError(`${at}: "exception" must be a written reason`);
    });
  }
  return plan;
}

export function sortRows(rows: ExpectedRow[]): ExpectedRow[] {
  return [...rows].sort((a, b) => a.routine.localeCompare(b.routine) || a.statement.localeCompare(b.statement)
    || a.select - b.select || (a.alias ?? a.table).localeCompare(b.alias ?? b.table));
}

/** The file's text with one flavour's rows replaced: one row per line, so a review diff is a list of plan changes. */
export function renderPlanFile(plan: PlanFile): string {
  const section = (rows: ExpectedRow[] | undefined) => {
    if (!rows || !rows.length) return '[]';
    return '[\n' + sortRows(rows).map((r) => '    ' + JSON.stringify(orderedRow(r))).join(',\n') + '\n  ]';
  };
  const sections = SERVER_FLAVOURS.map((flavour) => `,\n  "${flavour}": ${section(plan[flavour])}`).join('');
  return `{\n  "about": ${JSON.stringify(plan.about ?? PLAN_FILE_ABOUT)}${sections}\n}\n`;
}

function orderedRow(r: ExpectedRow): ExpectedRow {
  return {
    routine: r.routine, statement: r.statement, select: r.select, table: r.table, ...(r.alias ? { alias: r.alias } : {}),
    access: r.access, index: r.index, ...(r.exception !== undefined ? { exception: r.exception } : {}),
  };
}

export interface PlanDiff {
  kind: 'changed' | 'new' | 'gone';
  routine: string;
  statement: string;
  select: number;
  table: string;
  alias?: string;
  before?: { access: string; index: string | null };
  after?: { access: string; index: string | null };
}

/** Recorded rows against the rows seen now (one per key). */
export function comparePlans(recorded: ExpectedRow[], actual: ExpectedRow[]): PlanDiff[] {
  const before = new Map(recorded.map((r) => [rowKey(r), r]));
  const after = new Map(actual.map((r) => [rowKey(r), r]));
  const diffs: PlanDiff[] = [];
  const where = (r: ExpectedRow) => ({ routine: r.routine, statement: r.statement, select: r.select, table: r.table, ...(r.alias ? { alias: r.alias } : {}) });
  for (const [key, a] of after) {
    const b = before.get(key);
    if (!b) diffs.push({ kind: 'new', ...where(a), after: { access: a.access, index: a.index } });
    else if (b.access !== a.access || (b.index ?? null) !== (a.index ?? null)) {
      diffs.push({ kind: 'changed', ...where(a), before: { access: b.access, index: b.index ?? null }, after: { access: a.access, index: a.index } });
    }
  }
  for (const [key, b] of before) if (!after.has(key)) diffs.push({ kind: 'gone', ...where(b), before: { access: b.access, index: b.index ?? null } });
  return diffs.sort((x, y) => x.routine.localeCompare(y.routine) || x.statement.localeCompare(y.statement) || x.select - y.select);
}

export function describeAccess(p: { access: string; index: string | null } | undefined, table = ''): string {
  if (!p) return '-';
  const base = !/^(<|-$|JSON_TABLE$)/.test(table);
  const scan = !base ? '' : p.access === 'ALL' ? ' (full table scan)' : p.access === 'index' ? ' (full index scan)' : '';
  return `${p.access}${scan}${p.index ? ` on ${p.index}` : ', no index'}`;
}

export function shorten(text: string, max = 160): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

/** A readable before/after for one diff. */
export function renderDiff(d: PlanDiff, flavour: ServerFlavour): string {
  const table = `${d.table}${d.alias ? ` AS ${d.alias}` : ''}${d.select > 1 ? ` (query block ${d.select})` : ''}`;
  const head = d.kind === 'changed' ? 'plan changed' : d.kind === 'new' ? 'not in the plan file' : 'recorded but no longer seen';
  return [
    `${head} [${flavour}]: routine ${d.routine}, table ${table}`,
    `    statement: ${shorten(d.statement)}`,
    ...(d.before ? [`    - recorded: ${describeAccess(d.before, d.table)}`] : []),
    ...(d.after ? [`    + now:      ${describeAccess(d.after, d.table)}`] : []),
  ].join('\n');
}
