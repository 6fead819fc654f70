// Pure comparison of two catalogues (what the history produces, what the database has): one
// finding per difference, each naming the object and what differs, in a stable order. No
// database here: drift.ts and baseline.ts read both sides and decide what to compare.
import { Catalogue, ColumnDef, ForeignKeyDef, IndexDef, ParameterDef, RoutineDef, TableDef } from './catalogue';

export interface Finding {
  /** The object, as the line names it: a table, `procedure claim_batch`, `user 'x'@'%'`, `campaign 42`. */
  object: string;
  /** What differs, e.g. `index ix_send_after missing`. */
  difference: string;
}

export const findingLine = (f: Finding): string => `${f.object}: ${f.difference}`;

const sortedKeys = (o: Record<string, unknown>): string[] => Object.keys(o).sort();
const show = (v: string | null): string => (v === null ? 'none' : v);
const has = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

function compareColumn(table: string, want: ColumnDef, got: ColumnDef, out: Finding[]): void {
  const say = (what: string) => out.push({ object: table, difference: `column ${want.name} ${what}` });
  if (got.type !== want.type) say(`type ${got.type}, expected ${want.type}`);
  if (got.nullable !== want.nullable) say(got.nullable ? 'allows NULL, expected NOT NULL' : 'is NOT NULL, expected NULL allowed');
  if (got.default !== want.default) say(`default ${show(got.default)}, expected ${show(want.default)}`);
  if (got.collation !== want.collation) say(`collation ${show(got.collation)}, expected ${show(want.collation)}`);
  if (got.extra !== want.extra) say(`extra "${got.extra}", expected "${want.extra}"`);
  if (got.generation !== want.generation) say(`generated as ${show(got.generation)}, expected ${show(want.generation)}`);
  if (got.comment !== want.comment) say(`comment "${got.comment}", expected "${want.comment}"`);
}

const describeIndex = (i: IndexDef) => `${i.unique ? 'UNIQUE ' : ''}${i.type} (${i.parts.join(', ')})${i.hidden ? ' invisible' : ''}`;
const describeForeignKey = (f: ForeignKeyDef) =>
  `(${f.columns.join(', ')}) REFERENCES ${f.referencedTable} (${f.referencedColumns.join(', ')}) ON DELETE ${f.onDelete} ON UPDATE ${f.onUpdate}`;

/** Named parts of a table (indexes, foreign keys, checks): missing, extra, or different. */
function compareNamed<T>(table: string, noun: string, want: Record<string, T>, got: Record<string, T>,
  describe: (x: T) => string, out: Finding[]): void {
  for (const name of sortedKeys(want)) {
    if (!has(got, name)) out.push({ object: table, difference: `${noun} ${name} missing` });
    else if (describe(got[name]) !== describe(want[name])) {
      out.push({ object: table, difference: `${noun} ${name} is ${describe(got[name])}, expected ${describe(want[name])}` });
    }
  }
  for (const name of sortedKeys(got)) if (!has(want, name)) out.push({ object: table, difference: `${noun} ${name} extra` });
}

export function compareTable(want: TableDef, got: TableDef): Finding[] {
  const out: Finding[] = [];
  const table = want.name;
  if (got.engine !== want.engine) out.push({ object: table, difference: `engine ${show(got.engine)}, expected ${show(want.engine)}` });
  if (got.collation !== want.collation) out.push({ object: table, difference: `collation ${show(got.collation)}, expected ${show(want.collation)}` });
  if (got.comment !== want.comment) out.push({ object: table, difference: `comment "${got.comment}", expected "${want.comment}"` });
  const gotColumns = new Map(got.columns.map((c) => [c.name, c]));
  const wantNames = new Set(want.columns.map((c) => c.name));
  for (const column of want.columns) {
    const actual = gotColumns.get(column.name);
    if (!actual) out.push({ object: table, difference: `column ${column.name} missing` });
    else compareColumn(table, column, actual, out);
  }
  for (const column of got.columns) if (!wantNames.has(column.name)) out.push({ object: table, difference: `column ${column.name} extra` });
  // Order matters to SELECT * and INSERT without a column list: said once, over the shared columns.
  const orderWant = want.columns.filter((c) => gotColumns.has(c.name)).map((c) => c.name);
  const orderGot = got.columns.filter((c) => wantNames.has(c.name)).map((c) => c.name);
  if (orderWant.join() !== orderGot.join()) {
    out.push({ object: table, difference: `column order (${orderGot.join(', ')}), expected (${orderWant.join(', ')})` });
  }
  compareNamed(table, 'index', want.indexes, got.indexes, describeIndex, out);
  compareNamed(table, 'foreign key', want.foreignKeys, got.foreignKeys, describeForeignKey, out);
  compareNamed(table, 'check', want.checks, got.checks, (c) => c, out);
  return out;
}

const describeParameters = (ps: ParameterDef[]) =>
  ps.filter((p) => p.name !== null).map((p) => `${p.mode ?? ''} ${p.name} ${p.type}${p.collation ? ` COLLATE ${p.collation}` : ''}`.trim()).join(', ');
const describeReturns = (ps: ParameterDef[]) => {
  const r = ps.find((p) => p.name === null);
  return r ? `${r.type}${r.collation ? ` COLLATE ${r.collation}` : ''}` : '';
};

function compareCharacteristics(object: string, want: Record<string, string>, got: Record<string, string>, out: Finding[]): void {
  for (const key of sortedKeys(want)) {
    if (got[key] !== want[key]) out.push({ object, difference: `${key} ${got[key] || '(empty)'}, expected ${want[key] || '(empty)'}` });
  }
}

function compareRoutine(key: string, want: RoutineDef, got: RoutineDef, source: string | null, out: Finding[]): void {
  if (got.definition !== want.definition) out.push({ object: key, difference: `definition differs from ${source ?? 'the history'}` });
  if (describeParameters(got.parameters) !== describeParameters(want.parameters)) {
    out.push({ object: key, difference: `parameters (${describeParameters(got.parameters)}), expected (${describeParameters(want.parameters)})` });
  }
  if (describeReturns(got.parameters) !== describeReturns(want.parameters)) {
    out.push({ object: key, difference: `returns ${describeReturns(got.parameters)}, expected ${describeReturns(want.parameters)}` });
  }
  compareCharacteristics(key, want.characteristics, got.characteristics, out);
}

export interface CompareOptions {
  /** Tables neither side's comparison should mention (bookkeeping, sets reported otherwise). */
  ignoreTable?: (name: string) => boolean;
  /** False leaves routines out (a baseline below the newest version: `up` re-creates them anyway). */
  routines?: boolean;
  /** The checkout file a routine comes from, for its finding ("definition differs from procedures/x.sql"). */
  routineSource?: (routine: RoutineDef) => string | null;
}

/** Every difference between what the history produces (`want`) and what the database has (`got`). */
export function compareCatalogues(want: Catalogue, got: Catalogue, options: CompareOptions = {}): Finding[] {
  const ignore = options.ignoreTable ?? (() => false);
  const out: Finding[] = [];
  for (const name of sortedKeys(want.tables)) {
    if (ignore(name)) continue;
    if (!has(got.tables, name)) out.push({ object: name, difference: 'table missing' });
    else out.push(...compareTable(want.tables[name], got.tables[name]));
  }
  for (const name of sortedKeys(got.tables)) {
    if (!ignore(name) && !has(want.tables, name)) out.push({ object: name, difference: 'table extra' });
  }
  for (const name of sortedKeys(want.views)) {
    const w = want.views[name];
    const g = has(got.views, name) ? got.views[name] : undefined;
    const object = `view ${name}`;
    if (!g) out.push({ object, difference: 'missing' });
    else {
      if (g.definition !== w.definition) out.push({ object, difference: 'definition differs' });
      if (g.checkOption !== w.checkOption) out.push({ object, difference: `CHECK OPTION ${g.checkOption}, expected ${w.checkOption}` });
      if (g.securityType !== w.securityType) out.push({ object, difference: `SQL SECURITY ${g.securityType}, expected ${w.securityType}` });
    }
  }
  for (const name of sortedKeys(got.views)) if (!has(want.views, name)) out.push({ object: `view ${name}`, difference: 'extra' });
  if (options.routines !== false) {
    for (const key of sortedKeys(want.routines)) {
      if (!has(got.routines, key)) out.push({ object: key, difference: 'missing' });
      else compareRoutine(key, want.routines[key], got.routines[key], options.routineSource?.(want.routines[key]) ?? null, out);
    }
    for (const key of sortedKeys(got.routines)) if (!has(want.routines, key)) out.push({ object: key, difference: 'extra' });
  }
  for (const name of sortedKeys(want.triggers)) {
    const w = want.triggers[name];
    const object = `trigger ${name}`;
    if (!has(got.triggers, name)) {
      out.push({ object, difference: 'missing' });
      continue;
    }
    const g = got.triggers[name];
    const when = (t: typeof w) => `${t.timing} ${t.event} ON ${t.table} (order ${t.order})`;
    if (when(g) !== when(w)) out.push({ object, difference: `fires ${when(g)}, expected ${when(w)}` });
    if (g.statement !== w.statement) out.push({ object, difference: 'definition differs' });
    if (g.sqlMode !== w.sqlMode) out.push({ object, difference: `sql_mode ${g.sqlMode}, expected ${w.sqlMode}` });
  }
  for (const name of sortedKeys(got.triggers)) if (!has(want.triggers, name)) out.push({ object: `trigger ${name}`, difference: 'extra' });
  for (const name of sortedKeys(want.events)) {
    const object = `event ${name}`;
    if (!has(got.events, name)) {
      out.push({ object, difference: 'missing' });
      continue;
    }
    if (got.events[name].definition !== want.events[name].definition) out.push({ object, difference: 'definition differs' });
    compareCharacteristics(object, want.events[name].characteristics, got.events[name].characteristics, out);
  }
  for (const name of sortedKeys(got.events)) if (!has(want.events, name)) out.push({ object: `event ${name}`, difference: 'extra' });
  return out;
}

export interface SetIdentity {
  campaignId: number;
  companyId: number;
}

/**
 * A reference set's tables as the live set's should be: template steps name tables
 * (campaign_<id>_<kind>), constraints and indexes ({prefix} = c<id>_) and put the campaign's and
 * company's ids into defaults and checks. The reference uses ids no other text contains, so
 * replacing them is exact.
 */
export function mapSetTables(tables: TableDef[], from: SetIdentity, to: SetIdentity): TableDef[] {
  const text = JSON.stringify(tables)
    .split(`campaign_${from.campaignId}_`).join(`campaign_${to.campaignId}_`)
    .split(`c${from.campaignId}_`).join(`c${to.campaignId}_`)
    .replace(new RegExp(`\\b${from.campaignId}\\b`, 'g'), String(to.campaignId))
    .replace(new RegExp(`\\b${from.companyId}\\b`, 'g'), String(to.companyId));
  return JSON.parse(text) as TableDef[];
}

/** The campaign id a set table's name carries (campaign_<id>_<kind>), or null for other tables. */
export function campaignIdOfTable(name: string): number | null {
  const m = /^campaign_(\d+)_[a-z]/.exec(name);
  return m ? Number(m[1]) : null;
}
