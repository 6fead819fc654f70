// Index lint: duplicate indexes (the same columns in the same order, a build failure),
// left-prefix-redundant ones (their columns lead another index: reported) and indexes no captured
// statement used (reported). Campaign set tables are linted as their kind: campaign_N_messages.
import { Connection, queryRows } from '../sql/connection';
import { normaliseCampaignName } from './sqltext';

export interface IndexDefinition {
  table: string;
  name: string;
  unique: boolean;
  /** Columns in order, with a prefix length as col(10). */
  columns: string[];
}

export interface LintFinding {
  kind: 'duplicate' | 'redundant' | 'unused';
  /** campaign_N_<kind> for a campaign set table. */
  table: string;
  index: string;
  /** The index it duplicates or that makes it redundant. */
  other?: string;
  message: string;
  /** Only duplicates fail the check. */
  fails: boolean;
}

export async function readIndexes(conn: Connection, database: string): Promise<IndexDefinition[]> {
  const rows = await queryRows<{ table: string; name: string; nonUnique: number; seq: number; col: string | null; sub: number | null }>(conn,
    `SELECT TABLE_NAME AS \`table\`, INDEX_NAME AS name, NON_UNIQUE AS nonUnique, SEQ_IN_INDEX AS seq, COLUMN_NAME AS col, SUB_PART AS sub
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, [database]);
  const byKey = new Map<string, IndexDefinition>();
  for (const r of rows) {
    const key = `${r.table}\u0000${r.name}`;
    let def = byKey.get(key);
    if (!def) {
      def = { table: r.table, name: r.name, unique: Number(r.nonUnique) === 0, columns: [] };
      byKey.set(key, def);
    }
    // A functional key part has no column name: keep its position visible.
    def.columns.push((r.col ?? `expr${r.seq}`) + (r.sub ? `(${r.sub})` : ''));
  }
  return [...byKey.values()];
}

/** Foreign keys by table: the column lists an index must lead with to serve them. */
export async function readForeignKeys(conn: Connection, database: string): Promise<Map<string, { name: string; columns: string[] }[]>> {
  const rows = await queryRows<{ table: string; name: string; col: string }>(conn,
    `SELECT TABLE_NAME AS \`table\`, CONSTRAINT_NAME AS name, COLUMN_NAME AS col FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`, [database]);
  const out = new Map<string, { name: string; columns: string[] }[]>();
  for (const r of rows) {
    const list = out.get(r.table) ?? [];
    let fk = list.find((f) => f.name === r.name);
    if (!fk) {
      fk = { name: r.name, columns: [] };
      list.push(fk);
    }
    fk.columns.push(r.col);
    out.set(r.table, list);
  }
  return out;
}

const sameColumns = (a: string[], b: string[]) => a.length === b.length && a.every((c, i) => c.toLowerCase() === b[i].toLowerCase());
const isPrefix = (a: string[], b: string[]) => a.length < b.length && a.every((c, i) => c.toLowerCase() === b[i].toLowerCase());

/**
 * Lints the indexes of each table. `used`: normalised "table\0index" pairs some captured plan
 * used; null skips the unused check (nothing captured). Findings of campaign tables are named by
 * kind and reported once however many sets share them.
 */
export function lintIndexes(indexes: IndexDefinition[], used: Set<string> | null,
  foreignKeys: Map<string, { name: string; columns: string[] }[]> = new Map()): LintFinding[] {
  const byTable = new Map<string, IndexDefinition[]>();
  for (const ix of indexes) byTable.set(ix.table, [...(byTable.get(ix.table) ?? []), ix]);
  const findings = new Map<string, LintFinding>();
  const add = (f: LintFinding) => {
    // A redundant index is reported once, with the first index that covers it.
    const key = `${f.kind}\u0000${f.table}\u0000${f.index}\u0000${f.kind === 'redundant' ? '' : f.other ?? ''}`;
    if (!findings.has(key)) findings.set(key, f);
  };
  for (const [physical, list] of byTable) {
    const table = normaliseCampaignName(physical);
    const name = (ix: IndexDefinition) => normaliseCampaignName(ix.name);
    const describe = (ix: IndexDefinition) => `${name(ix)} (${ix.columns.join(', ')})`;
    for (const a of list) {
      for (const b of list) {
        if (a === b) continue;
        if (sameColumns(a.columns, b.columns)) {
          // Report a pair once; the one to drop is the non-unique one (or the later name), never PRIMARY.
          const drop = a.name === 'PRIMARY' ? b : b.name === 'PRIMARY' ? a : a.unique !== b.unique ? (a.unique ? b : a) : (a.name > b.name ? a : b);
          const keep = drop === a ? b : a;
          add({ kind: 'duplicate', table, index: name(drop), other: name(keep), fails: true,
            message: `${table}: index ${describe(drop)} duplicates ${describe(keep)}: drop ${name(drop)}` });
        } else if (!a.unique && a.name !== 'PRIMARY' && isPrefix(a.columns, b.columns)) {
          add({ kind: 'redundant', table, index: name(a), other: name(b), fails: false,
            message: `${table}: index ${describe(a)} is a left prefix of ${describe(b)}, which serves the same lookups` });
        }
      }
    }
    if (used) {
      for (const ix of list) {
        if (ix.name === 'PRIMARY' || used.has(`${table}\u0000${name(ix)}`)) continue;
        const fk = (foreignKeys.get(physical) ?? []).find((f) => f.columns.every((c, i) => ix.columns[i]?.replace(/\(\d+\)$/, '').toLowerCase() === c.toLowerCase()));
        const why = ix.unique ? ' (kept anyway: it enforces uniqueness)' : fk ? ` (it may still serve foreign key ${normaliseCampaignName(fk.name)})` : '';
        add({ kind: 'unused', table, index: name(ix), fails: false, message: `${table}: index ${describe(ix)} is used by no captured statement${why}` });
      }
    }
  }
  return [...findings.values()].sort((x, y) => Number(y.fails) - Number(x.fails) || x.table.localeCompare(y.table) || x.index.localeCompare(y.index));
}
