// EXPLAIN FORMAT=JSON of MySQL and of MariaDB, normalised into the same rows: one per table a
// statement reads (or writes), with its access type, index, estimated rows and whether the
// query block sorts with a filesort or groups, sorts or deduplicates in a temporary table.
// Pure functions; test/plans/normalise.spec.ts feeds them saved output of both servers.
//
// The two formats, side by side:
//   MySQL (json_schema_version 1; explain.ts asks 9.x for it):  query_block.table | .nested_loop[].table,
//     block operations ordering_operation / grouping_operation / duplicates_removal with
//     using_filesort and using_temporary_table, rows_examined_per_scan, derived tables as
//     materialized_from_subquery, subqueries in select_list_subqueries / attached_subqueries ...,
//     INSERT ... SELECT as insert_from, write targets flagged insert/update/delete: true.
//   MariaDB: query_block.nested_loop[] of table | read_sorted_file | block-nl-join, filesort and
//     temporary_table nodes wrapping what they sort, rows, derived tables as <derivedN> with
//     materialized, subqueries in subqueries[], union_result.query_specifications[], rowid_filter.
// The materialisation of a derived table or of JSON_TABLE is not counted as a temporary table:
// it holds only the rows it produces (and MySQL flags every JSON_TABLE so). Filesort and temporary
// belong, as in tabular EXPLAIN, to the first table of the query block that needs them.

export type TableKind = 'table' | 'derived' | 'function' | 'union' | 'none';

export interface RawPlanRow {
  /** select_id of the query block. */
  select: number;
  /** table_name as EXPLAIN gives it: the alias, or the table's name when it has none; <derivedN>, <unionM,N>. */
  name: string;
  kind: TableKind;
  /** ALL, index, range, ref, eq_ref, const, system, index_merge, ...; 'none' for a block without tables. */
  access: string;
  /** The index read (key), null for none. */
  index: string | null;
  /** Every index the row uses: key, index-merge parts, rowid filters. */
  indexes: string[];
  rows: number | null;
  filesort: boolean;
  temporary: boolean;
  /** A write target: the table an INSERT fills (no access), or the table an UPDATE/DELETE changes. */
  write?: 'insert' | 'update' | 'delete';
  /** EXPLAIN's message for a block without tables ("No tables used", "Impossible WHERE", ...). */
  note?: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Pending {
  filesort: boolean;
  temporary: boolean;
}

class Collector {
  rows: RawPlanRow[] = [];
  /** Block-level sort/temporary flags waiting for the block's first table. */
  pending = new Map<number, Pending>();

  take(select: number): Pending {
    const p = this.pending.get(select) ?? { filesort: false, temporary: false };
    this.pending.delete(select);
    return p;
  }

  flag(select: number, filesort: boolean, temporary: boolean): void {
    if (!filesort && !temporary) return;
    const p = this.pending.get(select) ?? { filesort: false, temporary: false };
    p.filesort ||= filesort;
    p.temporary ||= temporary;
    this.pending.set(select, p);
  }

  /** Flags left with no table to carry them (a block whose rows were optimised away) go on its first row, or a row of their own. */
  finish(): RawPlanRow[] {
    for (const [select, p] of this.pending) {
      const row = this.rows.find((r) => r.select === select);
      if (row) {
        row.filesort ||= p.filesort;
        row.temporary ||= p.temporary;
      } else {
        this.rows.push({ select, name: '-', kind: 'none', access: 'none', index: null, indexes: [], rows: null, ...p });
      }
    }
    this.pending.clear();
    return this.rows;
  }
}

const numberOr = (v: unknown): number | null => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return null;
};

/** Index names in a key: "ix_a", "ix_a,ix_b", or MySQL's index merge "sort_union(ix_a,PRIMARY)". */
export const keysOf = (key: unknown): string[] => (typeof key === 'string' && key
  ? key.replace(/[A-Za-z_]+\(/g, ',').replace(/\)/g, ',').split(',').map((k) => k.trim()).filter(Boolean) : []);

// ---- MySQL ----------------------------------------------------------------------------------

const MYSQL_SUBQUERY_LISTS = ['select_list_subqueries', 'attached_subqueries', 'optimized_away_subqueries', 'having_subqueries',
  'order_by_subqueries', 'group_by_subqueries', 'update_value_subqueries', 'query_specifications'];

/** Rows of a MySQL EXPLAIN FORMAT=JSON document (format version 1). */
export function normaliseMysql(explain: unknown): RawPlanRow[] {
  if (!isObject(explain)) throw new Error('EXPLAIN output is not a JSON object');
  if ('query_plan' in explain || explain.json_schema_version === '2.0') {
    throw new Error('MySQL EXPLAIN JSON format version 2: set explain_json_format_version = 1 (tools/plans/explain.ts does)');
  }
  const c = new Collector();
  walkMysql(explain, 0, c);
  return c.finish();
}

function walkMysql(node: unknown, select: number, c: Collector): void {
  if (Array.isArray(node)) {
    for (const n of node) walkMysql(n, select, c);
    return;
  }
  if (!isObject(node)) return;
  if (isObject(node.query_block)) {
    const block = node.query_block;
    const id = numberOr(block.select_id) ?? select;
    if (typeof block.message === 'string' && !hasTables(block)) {
      c.rows.push({ select: id, name: '-', kind: 'none', access: 'none', index: null, indexes: [], rows: null, filesort: false, temporary: false, note: block.message });
    }
    walkMysqlBlock(block, id, c);
    return;
  }
  walkMysqlBlock(node, select, c);
}

function hasTables(block: Json): boolean {
  return ['table', 'nested_loop', 'ordering_operation', 'grouping_operation', 'duplicates_removal', 'union_result', 'insert_from', 'windowing']
    .some((k) => k in block);
}

function walkMysqlBlock(block: Json, select: number, c: Collector): void {
  for (const [key, value] of Object.entries(block)) {
    if (key === 'ordering_operation' || key === 'grouping_operation' || key === 'duplicates_removal') {
      const op = value as Json;
      c.flag(select, op.using_filesort === true, op.using_temporary_table === true);
      walkMysqlBlock(op, select, c);
    } else if (key === 'windowing') {
      const w = value as Json;
      for (const win of (Array.isArray(w.windows) ? w.windows : []) as Json[]) c.flag(select, win.using_filesort === true, win.using_temporary_table === true);
      walkMysqlBlock(w, select, c);
    } else if (key === 'nested_loop') {
      for (const entry of value as Json[]) walkMysqlBlock(entry, select, c);
    } else if (key === 'table') {
      mysqlTable(value as Json, select, c);
    } else if (key === 'insert_from') {
      walkMysqlBlock(value as Json, select, c);
    } else if (key === 'union_result') {
      const u = value as Json;
      const id = numberOr(u.select_id) ?? select;
      c.rows.push({
        select: id, name: String(u.table_name ?? '<union>'), kind: 'union', access: String(u.access_type ?? 'ALL'), index: null, indexes: [],
        rows: null, filesort: u.using_filesort === true, temporary: u.using_temporary_table === true,
      });
      for (const spec of (u.query_specifications ?? []) as Json[]) walkMysql(spec, id, c);
    } else if (MYSQL_SUBQUERY_LISTS.includes(key) && Array.isArray(value)) {
      for (const sub of value) walkMysql(sub, select, c);
    }
  }
}

function mysqlTable(t: Json, select: number, c: Collector): void {
  const name = String(t.table_name ?? '-');
  const derived = isObject(t.materialized_from_subquery) ? t.materialized_from_subquery : null;
  const innerSelect = derived && isObject(derived.query_block) ? numberOr(derived.query_block.select_id) : null;
  const write = t.insert === true ? 'insert' : t.update === true ? 'update' : t.delete === true ? 'delete' : undefined;
  if (typeof t.message === 'string' && !t.access_type) {
    c.rows.push({ select, name: '-', kind: 'none', access: 'none', index: null, indexes: [], rows: null, filesort: false, temporary: false, note: t.message });
    return;
  }
  const flags = write === 'insert' ? { filesort: false, temporary: false } : c.take(select);
  const index = typeof t.key === 'string' ? t.key : null;
  c.rows.push({
    select,
    name: derived && innerSelect !== null ? `<derived${innerSelect}>` : name,
    kind: derived ? 'derived' : t.table_function ? 'function' : 'table',
    access: write === 'insert' && !t.key ? 'insert' : String(t.access_type ?? 'none'),
    index,
    indexes: keysOf(t.key),
    rows: write === 'insert' ? null : numberOr(t.rows_examined_per_scan),
    filesort: flags.filesort || t.using_filesort === true,
    temporary: flags.temporary,
    ...(write ? { write } : {}),
  });
  if (derived) walkMysql(derived, select, c);
  for (const key of MYSQL_SUBQUERY_LISTS) if (Array.isArray(t[key])) for (const sub of t[key] as unknown[]) walkMysql(sub, select, c);
}

// ---- MariaDB --------------------------------------------------------------------------------

/** Rows of a MariaDB EXPLAIN FORMAT=JSON document (the table an INSERT ... VALUES fills comes without access: a write target). */
export function normaliseMariadb(explain: unknown): RawPlanRow[] {
  if (!isObject(explain)) throw new Error('EXPLAIN output is not a JSON object');
  const c = new Collector();
  walkMariadb(explain, 0, c);
  return c.finish();
}

function walkMariadb(node: unknown, select: number, c: Collector): void {
  if (Array.isArray(node)) {
    for (const n of node) walkMariadb(n, select, c);
    return;
  }
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'query_block') {
      const block = value as Json;
      const id = numberOr(block.select_id) ?? select;
      if (typeof block.message === 'string') {
        c.rows.push({ select: id, name: '-', kind: 'none', access: 'none', index: null, indexes: [], rows: null, filesort: false, temporary: false, note: block.message });
      }
      walkMariadb(block, id, c);
    } else if (key === 'filesort') {
      c.flag(select, true, false);
      walkMariadb(value, select, c);
    } else if (key === 'temporary_table') {
      c.flag(select, false, true);
      walkMariadb(value, select, c);
    } else if (key === 'table') {
      mariadbTable(value as Json, select, c);
    } else if (key === 'union_result') {
      const u = value as Json;
      const id = numberOr(u.select_id) ?? select;
      c.rows.push({
        select: id, name: String(u.table_name ?? '<union>'), kind: 'union', access: String(u.access_type ?? 'ALL'), index: null, indexes: [],
        rows: null, filesort: false, temporary: false,
      });
      walkMariadb(u.query_specifications ?? [], id, c);
    } else if (key === 'block-nl-join' || key === 'read_sorted_file' || key === 'duplicates_removal' || key === 'nested_loop'
      || key === 'subqueries' || key === 'query_specifications' || key === 'window_functions_computation' || key === 'expression_cache') {
      walkMariadb(value, select, c);
    } else if (key === 'sorting_window_functions' || key === 'temporary_table_window') {
      walkMariadb(value, select, c);
    }
  }
}

function mariadbTable(t: Json, select: number, c: Collector): void {
  if (typeof t.message === 'string' && !t.table_name) {
    c.rows.push({ select, name: '-', kind: 'none', access: 'none', index: null, indexes: [], rows: null, filesort: false, temporary: false, note: t.message });
    return;
  }
  const name = String(t.table_name ?? '-');
  const write = t.update !== undefined && t.update !== 0 && t.update !== false ? 'update'
    : t.delete !== undefined && t.delete !== 0 && t.delete !== false ? 'delete'
      : !t.access_type ? 'insert' : undefined;
  const indexes = [...keysOf(t.key)];
  const merge = t.index_merge;
  let index = typeof t.key === 'string' ? t.key : null;
  if (isObject(merge)) {
    const parts: string[] = [];
    collectKeys(merge, parts);
    indexes.push(...parts);
    // Named like MySQL's key for the same plan: sort_union(ix_a,PRIMARY).
    index ??= `${Object.keys(merge)[0]}(${parts.join(',')})`;
  }
  if (isObject(t.rowid_filter)) collectKeys(t.rowid_filter, indexes);
  const flags = write === 'insert' ? { filesort: false, temporary: false } : c.take(select);
  const derived = isObject(t.materialized) ? t.materialized : null;
  c.rows.push({
    select,
    name,
    kind: /^<derived\d+>$/.test(name) || derived ? 'derived' : t.table_function ? 'function' : 'table',
    access: write === 'insert' ? 'insert' : String(t.access_type ?? 'none'),
    index,
    indexes: [...new Set(indexes)],
    rows: write === 'insert' ? null : numberOr(t.rows),
    filesort: flags.filesort,
    temporary: flags.temporary,
    ...(write ? { write } : {}),
  });
  if (derived) walkMariadb(derived, select, c);
  if (t.subqueries) walkMariadb(t.subqueries, select, c);
}

function collectKeys(node: unknown, into: string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collectKeys(n, into);
    return;
  }
  if (!isObject(node)) return;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'key' && typeof v === 'string') into.push(...keysOf(v));
    else collectKeys(v, into);
  }
}

// ---- Both ---------------------------------------------------------------------------------

/** Access types that read a whole table (ALL) or a whole index (index). */
export function scanKind(access: string): 'table' | 'index' | null {
  if (access === 'ALL' || access === 'hash_ALL') return 'table';
  if (access === 'index' || access === 'hash_index') return 'index';
  return null;
}
