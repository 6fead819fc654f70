// Stage 1 of codegen: what the server's catalogue says about the routines of one database
// (information_schema.ROUTINES and PARAMETERS), with nothing TypeScript-specific in it.
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { splitTopLevel } from '../routines/header';

export interface CatalogueParam {
  name: string;
  mode: 'IN' | 'OUT' | 'INOUT';
  /** DTD_IDENTIFIER, e.g. "bigint unsigned", "enum('a','b')"; "json" for a JSON parameter on either server. */
  sqlType: string;
}

export interface CatalogueRoutine {
  name: string;
  kind: 'procedure' | 'function';
  /** SQL_DATA_ACCESS: 'CONTAINS SQL', 'NO SQL', 'READS SQL DATA' or 'MODIFIES SQL DATA'. */
  sqlDataAccess: string;
  comment: string;
  params: CatalogueParam[];
  /** A function's return type. */
  returns: string | null;
}

/**
 * MariaDB stores a parameter or return type declared JSON as LONGTEXT (JSON is an alias there), so
 * information_schema cannot tell them apart; the routine's own declaration (SHOW CREATE) can. On
 * MySQL the catalogue already says "json" and this finds nothing to change.
 */
export function declaredJsonTypes(createStatement: string, name: string): { params: Set<string>; returns: boolean } {
  const params = new Set<string>();
  const head = new RegExp('\\b(?:PROCEDURE|FUNCTION)\\s+(?:`[^`]*`\\.)?`?' + name.replace(/\$/g, '\\$') + '`?\\s*\\(', 'i').exec(createStatement);
  if (!head) return { params, returns: false };
  let depth = 1;
  let quote: string | null = null;
  let i = head.index + head[0].length;
  const start = i;
  for (; i < createStatement.length && depth > 0; i++) {
    const c = createStatement[i];
    if (quote) {
      if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
  }
  const list = createStatement.slice(start, i - 1);
  for (const part of splitTopLevel(list, /,/)) {
    const m = /^(?:(?:IN|OUT|INOUT)\s+)?`?([^`\s]+)`?\s+json\b/i.exec(part);
    if (m) params.add(m[1].toLowerCase());
  }
  const returns = /^\s*RETURNS\s+json\b/i.test(createStatement.slice(i));
  return { params, returns };
}

/** Every stored procedure and function of `database`, by name, with parameters in order. */
export async function readCatalogue(conn: Connection, database: string): Promise<CatalogueRoutine[]> {
  const routines = await queryRows<{ ROUTINE_NAME: string; ROUTINE_TYPE: string; DTD_IDENTIFIER: string | null; SQL_DATA_ACCESS: string; ROUTINE_COMMENT: string | null }>(conn,
    `SELECT ROUTINE_NAME, ROUTINE_TYPE, DTD_IDENTIFIER, SQL_DATA_ACCESS, ROUTINE_COMMENT
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME, ROUTINE_TYPE`, [database]);
  const params = await queryRows<{ SPECIFIC_NAME: string; ROUTINE_TYPE: string; ORDINAL_POSITION: number; PARAMETER_MODE: string | null; PARAMETER_NAME: string | null; DTD_IDENTIFIER: string }>(conn,
    `SELECT SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION, PARAMETER_MODE, PARAMETER_NAME, DTD_IDENTIFIER
       FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = ? AND ORDINAL_POSITION > 0
      ORDER BY SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION`, [database]);
  const result: CatalogueRoutine[] = [];
  for (const r of routines) {
    const kind = r.ROUTINE_TYPE === 'FUNCTION' ? 'function' : 'procedure';
    const routine: CatalogueRoutine = {
      name: r.ROUTINE_NAME,
      kind,
      sqlDataAccess: r.SQL_DATA_ACCESS,
      comment: r.ROUTINE_COMMENT ?? '',
      params: params
        .filter((p) => p.SPECIFIC_NAME === r.ROUTINE_NAME && p.ROUTINE_TYPE === r.ROUTINE_TYPE)
        .map((p) => ({ name: p.PARAMETER_NAME ?? '', mode: (p.PARAMETER_MODE ?? 'IN') as CatalogueParam['mode'], sqlType: p.DTD_IDENTIFIER })),
      returns: kind === 'function' ? r.DTD_IDENTIFIER : null,
    };
    const longtext = (t: string | null) => t !== null && /^longtext\b/i.test(t);
    if (routine.params.some((p) => longtext(p.sqlType)) || longtext(routine.returns)) {
      const [row] = await queryRows<Record<string, string>>(conn,
        `SHOW CREATE ${kind === 'function' ? 'FUNCTION' : 'PROCEDURE'} ${quoteIdentifier(database)}.${quoteIdentifier(routine.name)}`);
      const create = row[kind === 'function' ? 'Create Function' : 'Create Procedure'] ?? '';
      const json = declaredJsonTypes(create, routine.name);
      for (const p of routine.params) if (longtext(p.sqlType) && json.params.has(p.name.toLowerCase())) p.sqlType = 'json';
      if (longtext(routine.returns) && json.returns) routine.returns = 'json';
    }
    result.push(routine);
  }
  return result;
}
