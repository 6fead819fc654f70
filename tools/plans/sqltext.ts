// SQL text as the plan check needs it: a small lexer, the statement fingerprint (literals -> ?,
// campaign table names -> campaign_N_<kind>), the text to EXPLAIN (INTO targets removed) and the
// tables a statement names with their aliases. Pure functions, no server.
//
// Captured statements come in three shapes, and all three must fingerprint alike:
//   raw       as written in the routine:       WHERE id = p_batch_id
//   valued    the server's logging form:       WHERE id =  NAME_CONST('p_batch_id',17)
//   expanded  a dynamic statement as executed: WHERE id = 17      (prepared text: WHERE id = ?)

export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'placeholder' | 'variable' | 'punct' | 'namedValue';

export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset of the token's first character in the text. */
  start: number;
  /** namedValue: the routine variable NAME_CONST(...) stands for. */
  name?: string;
}

const WORD_START = /[A-Za-z_$\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Reads a quoted run starting at i (the quote); returns the index after its closing quote. */
function endOfQuoted(sql: string, i: number): number {
  const quote = sql[i];
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (c === '\\' && quote !== '`') {
      j += 2;
      continue;
    }
    if (c === quote) {
      if (sql[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return sql.length;
}

/** Typed-literal prefixes: TIMESTAMP'...', DATE'...', _utf8mb4'...', N'...', X'...', B'...'. */
function isLiteralPrefix(word: string): boolean {
  return /^(timestamp|date|time|n|x|b|_[a-z0-9]+)$/i.test(word);
}

/**
 * Splits SQL into tokens. Comments are dropped; a charset introducer or typed-literal prefix is
 * one string token with its literal; NAME_CONST('name', value) is one namedValue token.
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const push = (token: Omit<Token, 'start'>) => tokens.push({ ...token, start: i });
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-' && (i + 2 >= sql.length || /\s/.test(sql[i + 2]))) {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '#') {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = endOfQuoted(sql, i);
      push({ kind: 'string', text: sql.slice(i, end) });
      i = end;
      continue;
    }
    if (c === '`') {
      const end = endOfQuoted(sql, i);
      push({ kind: 'quoted', text: sql.slice(i, end) });
      i = end;
      continue;
    }
    if (c === '?') {
      push({ kind: 'placeholder', text: '?' });
      i++;
      continue;
    }
    if (c === '@') {
      let j = i + 1;
      if (sql[j] === '@') j++;
      if (sql[j] === '`' || sql[j] === "'" || sql[j] === '"') j = endOfQuoted(sql, j);
      else while (j < sql.length && (WORD_CHAR.test(sql[j]) || sql[j] === '.')) j++;
      push({ kind: 'variable', text: sql.slice(i, j) });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      let j = i;
      if (c === '0' && /[xXbB]/.test(sql[i + 1] ?? '')) {
        j += 2;
        while (j < sql.length && /[0-9A-Fa-f]/.test(sql[j])) j++;
      } else {
        while (j < sql.length && /[0-9.]/.test(sql[j])) j++;
        if (/[eE]/.test(sql[j] ?? '') && /[-+0-9]/.test(sql[j + 1] ?? '')) {
          j += 2;
          while (j < sql.length && /[0-9]/.test(sql[j])) j++;
        }
      }
      // 1abc is an identifier in MySQL
      if (j < sql.length && WORD_START.test(sql[j]) && !/[eE]/.test(sql[j])) {
        while (j < sql.length && WORD_CHAR.test(sql[j])) j++;
        push({ kind: 'word', text: sql.slice(i, j) });
      } else {
        push({ kind: 'number', text: sql.slice(i, j) });
      }
      i = j;
      continue;
    }
    if (WORD_START.test(c)) {
      let j = i;
      while (j < sql.length && WORD_CHAR.test(sql[j])) j++;
      const word = sql.slice(i, j);
      if ((sql[j] === "'" || (sql[j] === '"' && word.startsWith('_'))) && isLiteralPrefix(word)) {
        const end = endOfQuoted(sql, j);
        push({ kind: 'string', text: sql.slice(i, end) });
        i = end;
        continue;
      }
      if (/^name_const$/i.test(word)) {
        const named = readNameConst(sql, j);
        if (named) {
          push({ kind: 'namedValue', text: sql.slice(i, named.end), name: named.name });
          i = named.end;
          continue;
        }
      }
      push({ kind: 'word', text: word });
      i = j;
      continue;
    }
    // Two-character operators first.
    const two = sql.slice(i, i + 3) === '<=>' ? '<=>' : sql.slice(i, i + 2);
    if (['<=>', '<=', '>=', '<>', '!=', ':=', '||', '&&', '<<', '>>', '->'].includes(two)) {
      const op = two === '->' && sql[i + 2] === '>' ? '->>' : two;
      push({ kind: 'punct', text: op });
      i += op.length;
      continue;
    }
    push({ kind: 'punct', text: c });
    i++;
  }
  return tokens;
}

/** NAME_CONST('name', value [COLLATE 'x']) starting at the '(' after the word; null when not that shape. */
function readNameConst(sql: string, open: number): { name: string; end: number } | null {
  let i = open;
  while (/\s/.test(sql[i] ?? '')) i++;
  if (sql[i] !== '(') return null;
  i++;
  while (/\s/.test(sql[i] ?? '')) i++;
  if (sql[i] !== "'" && sql[i] !== '"') return null;
  const nameEnd = endOfQuoted(sql, i);
  const name = unquote(sql.slice(i, nameEnd));
  // Skip to the matching parenthesis, over quoted runs.
  let depth = 1;
  let j = nameEnd;
  while (j < sql.length && depth > 0) {
    const c = sql[j];
    if (c === "'" || c === '"' || c === '`') {
      j = endOfQuoted(sql, j);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') depth--;
    j++;
  }
  return depth === 0 ? { name, end: j } : null;
}

export function unquote(text: string): string {
  const q = text[0];
  if (q !== "'" && q !== '"' && q !== '`') return text;
  const body = text.slice(1, -1);
  return q === '`' ? body.replace(/``/g, '`') : body.replace(new RegExp(q + q, 'g'), q).replace(/\\(.)/g, '$1');
}

/** An identifier token's name (backticks removed), or null for anything else. */
export function identifierOf(token: Token | undefined): string | null {
  if (!token) return null;
  if (token.kind === 'quoted') return unquote(token.text);
  if (token.kind === 'word') return token.text;
  return null;
}

const STATEMENT_KINDS = ['select', 'insert', 'update', 'delete', 'replace', 'with'] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

/** The statement's verb when it is one EXPLAIN accepts (SELECT, INSERT, UPDATE, DELETE, REPLACE, WITH), else null. */
export function explainableKind(sql: string): StatementKind | null {
  const tokens = tokenize(sql);
  let i = 0;
  while (tokens[i]?.text === '(') i++;
  const word = tokens[i]?.kind === 'word' ? tokens[i].text.toLowerCase() : '';
  return (STATEMENT_KINDS as readonly string[]).includes(word) ? (word as StatementKind) : null;
}

/** Whether the text has a ? placeholder outside quotes: a prepared statement's text, not one that ran. */
export function hasPlaceholder(sql: string): boolean {
  return tokenize(sql).some((t) => t.kind === 'placeholder');
}

/** campaign_42_messages -> campaign_N_messages; ix_c42_messages_contact -> ix_cN_messages_contact. */
export function normaliseCampaignName(name: string): string {
  return name
    .replace(/^campaign_\d+_(?=[a-z])/i, 'campaign_N_')
    .replace(/^(ix|uq|fk|pk|ck)_c\d+_/i, '$1_cN_');
}

/** The campaign table kind of a campaign table name (campaign_42_messages -> messages), else null. */
export function campaignKindOf(name: string): string | null {
  const m = /^campaign_\d+_([a-z][a-z0-9_]*)$/i.exec(name);
  return m ? m[1] : null;
}

function isLiteral(t: Token): boolean {
  return t.kind === 'string' || t.kind === 'number' || t.kind === 'namedValue' || t.kind === 'placeholder';
}

/** Canonical spacing: one space between tokens, none inside parentheses, before commas or around dots. */
export function joinTokens(texts: string[]): string {
  let out = '';
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    const prev = texts[i - 1];
    const glue = i === 0 || prev === '(' || prev === '.' || t === ')' || t === ',' || t === '.' || (t === '(' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(prev ?? '') && !KEYWORDS_BEFORE_PAREN.has(prev.toUpperCase()));
    out += (glue ? '' : ' ') + t;
  }
  return out;
}

/** Keywords that take a space before "(" in canonical text (function names do not). */
const KEYWORDS_BEFORE_PAREN = new Set(['IN', 'FROM', 'JOIN', 'STRAIGHT_JOIN', 'ON', 'AND', 'OR', 'NOT', 'AS', 'VALUES', 'VALUE', 'EXISTS',
  'WHERE', 'SELECT', 'USING', 'COLUMNS', 'UNION', 'ALL', 'INTO', 'SET', 'THEN', 'ELSE', 'WHEN', 'CASE', 'BY', 'HAVING', 'WITH']);

/**
 * The statement's fingerprint: the same for every execution of one statement, whatever its values
 * and whichever of the three shapes it was captured in, on either server. Literals, placeholders
 * and NULL values become ?, a NAME_CONST becomes the variable's name (as written in the routine),
 * lists of ? collapse to (...), identifiers lose their backticks and campaign table names their id.
 */
export function fingerprint(sql: string): string {
  const tokens = tokenize(sql);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const prev = tokens[i - 1];
    if (t.kind === 'namedValue') {
      out.push(t.name!);
      continue;
    }
    if (isLiteral(t)) {
      out.push('?');
      continue;
    }
    if (t.kind === 'word' && /^null$/i.test(t.text) && !(prev && /^(is|not)$/i.test(prev.text))) {
      out.push('?');
      continue;
    }
    if (t.kind === 'punct' && t.text === ';' && i === tokens.length - 1) continue;
    if (t.kind === 'quoted' || t.kind === 'word') {
      const name = identifierOf(t)!;
      out.push(t.kind === 'word' && KEYWORD_SET.has(name.toUpperCase()) ? name.toUpperCase() : normaliseCampaignName(name));
      continue;
    }
    out.push(t.text);
  }
  // ( ?, ?, ? ) -> ( ... )
  const collapsed: string[] = [];
  for (let i = 0; i < out.length; i++) {
    if (out[i] === '(' && out[i + 1] === '?') {
      let j = i + 1;
      while (out[j] === '?' && (out[j + 1] === ',' || out[j + 1] === ')')) {
        if (out[j + 1] === ')') break;
        j += 2;
      }
      if (out[j] === '?' && out[j + 1] === ')' && j > i + 1) {
        collapsed.push('(', '...', ')');
        i = j + 1;
        continue;
      }
    }
    collapsed.push(out[i]);
  }
  return joinTokens(collapsed);
}

const KEYWORD_SET = new Set(`SELECT FROM WHERE AND OR NOT IN IS NULL AS ON JOIN LEFT RIGHT INNER OUTER CROSS STRAIGHT_JOIN NATURAL
 USING GROUP BY ORDER ASC DESC LIMIT OFFSET HAVING UNION ALL DISTINCT INSERT INTO VALUES VALUE UPDATE SET DELETE REPLACE IGNORE
 FOR SHARE LOCK MODE SKIP LOCKED NOWAIT WITH RECURSIVE EXISTS BETWEEN LIKE REGEXP CASE WHEN THEN ELSE END INTERVAL SECOND
 MINUTE HOUR DAY COLUMNS PATH ORDINALITY COLLATE DUPLICATE KEY TRUE FALSE WINDOW OVER PARTITION`.split(/\s+/).filter(Boolean));

/** Whether two fingerprints are of the same statement; `truncated`: a is a cut-off copy (p_s SQL_TEXT). */
export function fingerprintsMatch(a: string, b: string, truncated = false): boolean {
  if (a === b) return true;
  if (!truncated) return false;
  // Drop the last (possibly cut) token of the truncated text and compare prefixes.
  const cut = a.replace(/\s*\S*$/, '');
  return cut.length > 0 && b.startsWith(cut);
}

/** Removes the INTO target list of a SELECT (SELECT a INTO v FROM ... / SELECT ... FROM ... INTO @x), for EXPLAIN. */
export function stripInto(sql: string): string {
  const tokens = tokenize(sql);
  if (!tokens.length) return sql;
  let start = 0;
  while (tokens[start]?.text === '(') start++;
  const verb = tokens[start]?.text.toLowerCase();
  if (verb !== 'select' && verb !== 'with') return sql;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (depth === 0 && t.kind === 'word' && /^into$/i.test(t.text)) {
      // INTO target [, target]...: variables (@x), routine variables (names) or quoted names.
      let j = i + 1;
      for (;;) {
        const target = tokens[j];
        if (!target || !(target.kind === 'variable' || target.kind === 'word' || target.kind === 'quoted')) break;
        j++;
        if (tokens[j]?.text !== ',') break;
        j++;
      }
      const from = t.start;
      const to = j < tokens.length ? tokens[j].start : sql.length;
      return (sql.slice(0, from) + sql.slice(to)).replace(/[ \t]+$/gm, '').trim();
    }
  }
  return sql;
}

/** A table a statement reads or writes, as written: the table's name and the alias EXPLAIN will call it by. */
export interface TableReference {
  table: string;
  alias: string;
}

const TABLE_CLAUSE_END = new Set(['ON', 'USING', 'WHERE', 'JOIN', 'LEFT', 'RIGHT', 'INNER', 'CROSS', 'STRAIGHT_JOIN', 'NATURAL', 'SET',
  'GROUP', 'ORDER', 'LIMIT', 'FOR', 'LOCK', 'UNION', 'HAVING', 'WINDOW', 'VALUES', 'VALUE', 'SELECT', 'PARTITION', 'FORCE',
  'IGNORE', 'USE', 'OUTER', 'INTO', 'WITH', 'AS']);

/**
 * Every base table named after FROM, JOIN, UPDATE or INTO, with its alias (the table's own name
 * when it has none). Derived tables and table functions (JSON_TABLE) are not base tables and are
 * left out; CTE names are left out too.
 */
export function tableReferences(sql: string): TableReference[] {
  const tokens = tokenize(sql);
  const refs: TableReference[] = [];
  const ctes = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    // WITH name AS (...), name AS (...)
    if (tokens[i].kind === 'word' && /^(with|recursive)$/i.test(tokens[i].text) || (tokens[i].text === ',' && ctes.size > 0 && tokens[i + 2] && /^as$/i.test(tokens[i + 2].text) && tokens[i + 3]?.text === '(')) {
      const name = identifierOf(tokens[i + 1]);
      if (name && /^as$/i.test(tokens[i + 2]?.text ?? '') && tokens[i + 3]?.text === '(') ctes.add(name.toLowerCase());
    }
  }
  // Commas that separate table factors: at the depth of a FROM, before the clause that ends it.
  const fromCommas = new Set<number>();
  const inFrom: boolean[] = [false];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.text === '(') inFrom.push(false);
    else if (t.text === ')') inFrom.pop();
    else if (t.kind === 'word' && /^from$/i.test(t.text)) inFrom[inFrom.length - 1] = true;
    else if (t.kind === 'word' && /^(where|group|having|order|limit|window|union|for|lock|into|set|on|using)$/i.test(t.text)) {
      // ON/USING end a factor but a comma may follow the condition: keep FROM open for those.
      if (!/^(on|using)$/i.test(t.text)) inFrom[inFrom.length - 1] = false;
    } else if (t.text === ',' && inFrom[inFrom.length - 1]) fromCommas.add(i);
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (fromCommas.has(i)) {
      readFactor(tokens, i, refs, ctes);
      continue;
    }
    if (t.kind !== 'word') continue;
    const kw = t.text.toUpperCase();
    let isTableClause = kw === 'FROM' || kw === 'JOIN' || kw === 'STRAIGHT_JOIN' || kw === 'INTO';
    if (kw === 'UPDATE' && i === firstWordIndex(tokens)) isTableClause = true;
    if (kw === 'INTO' && !/^(insert|replace)$/i.test(tokens[firstWordIndex(tokens)]?.text ?? '')) isTableClause = false;
    if (!isTableClause) continue;
    readFactor(tokens, i, refs, ctes);
  }
  return refs;
}

/** Reads the table factor after tokens[i] (FROM, JOIN, UPDATE, INTO or a FROM-list comma). Derived tables are read by the caller's scan. */
function readFactor(tokens: Token[], i: number, refs: TableReference[], ctes: Set<string>): void {
  const first = tokens[i + 1];
  if (!first || first.text === '(' || (first.kind === 'word' && /^json_table$/i.test(first.text) && tokens[i + 2]?.text === '(')) return;
  let name = identifierOf(first);
  if (!name || (first.kind === 'word' && TABLE_CLAUSE_END.has(name.toUpperCase()))) return;
  let j = i + 2;
  if (tokens[j]?.text === '.' && identifierOf(tokens[j + 1])) {
    name = identifierOf(tokens[j + 1])!;
    j += 2;
  }
  const { alias } = skipAlias(tokens, j);
  if (!ctes.has(name.toLowerCase())) refs.push({ table: name, alias: alias ?? name });
}

function firstWordIndex(tokens: Token[]): number {
  let i = 0;
  while (tokens[i]?.text === '(') i++;
  return i;
}

function skipAlias(tokens: Token[], j: number): { alias: string | null; next: number } {
  if (tokens[j]?.kind === 'word' && /^as$/i.test(tokens[j].text)) {
    return { alias: identifierOf(tokens[j + 1]), next: j + 2 };
  }
  const t = tokens[j];
  if (t && (t.kind === 'quoted' || (t.kind === 'word' && !TABLE_CLAUSE_END.has(t.text.toUpperCase()) && !KEYWORD_SET.has(t.text.toUpperCase())))) {
    return { alias: identifierOf(t), next: j + 1 };
  }
  return { alias: null, next: j };
}

/**
 * Replaces unqualified references to routine variables by values: `values` maps a variable name
 * (case-insensitive) to SQL text. Returns the new text and the variables that had no value.
 * INTO targets must already be stripped. A name after "." or before "(" is a column or a function,
 * not a variable; inside a routine an unqualified name that is a variable always means the variable.
 */
export function substituteVariables(sql: string, variables: Set<string>, values: Map<string, string>): { sql: string; unknown: string[] } {
  const tokens = tokenize(sql);
  const unknown = new Set<string>();
  const texts: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const name = t.kind === 'word' ? t.text.toLowerCase() : null;
    if (name && variables.has(name) && tokens[i - 1]?.text !== '.' && tokens[i + 1]?.text !== '.' && tokens[i + 1]?.text !== '(') {
      const value = values.get(name);
      if (value === undefined) unknown.add(name);
      texts.push(value === undefined ? t.text : `(${value})`);
      continue;
    }
    texts.push(t.text);
  }
  return { sql: texts.join(' '), unknown: [...unknown] };
}

/** Splits a CALL's argument list: "CALL r(1, 'a,b', f(x, y))" -> ["1", "'a,b'", "f(x, y)"]. */
export function callArguments(sql: string): { routine: string; args: string[] } | null {
  const tokens = tokenize(sql);
  if (!/^call$/i.test(tokens[0]?.text ?? '')) return null;
  let i = 1;
  let routine = identifierOf(tokens[i]);
  if (!routine) return null;
  i++;
  if (tokens[i]?.text === '.') {
    routine = identifierOf(tokens[i + 1]);
    i += 2;
  }
  if (!routine) return null;
  if (tokens[i]?.text !== '(') return { routine, args: [] };
  const args: string[] = [];
  let depth = 0;
  let current: string[] = [];
  for (let j = i + 1; j < tokens.length; j++) {
    const t = tokens[j];
    if (t.text === '(') depth++;
    if (t.text === ')') {
      if (depth === 0) break;
      depth--;
    }
    if (t.text === ',' && depth === 0) {
      args.push(current.join(' '));
      current = [];
      continue;
    }
    current.push(t.text);
  }
  if (current.length) args.push(current.join(' '));
  return { routine, args };
}

const HARMLESS_CLAUSES = new Set(['SELECT', 'SET', 'VALUES', 'VALUE']);
const PLAN_CLAUSES = new Set(['WHERE', 'ON', 'HAVING', 'USING', 'ORDER', 'GROUP', 'LIMIT', 'FROM', 'JOIN', 'STRAIGHT_JOIN', 'UPDATE', 'INTO', 'WINDOW']);

/**
 * Whether a routine variable's value can change the statement's plan: true when it appears in a
 * WHERE/ON/HAVING/ORDER/GROUP/LIMIT clause or a table expression (JSON_TABLE's document), false
 * when it only fills a select list, an UPDATE's SET or an INSERT's VALUES.
 */
export function variableAffectsPlan(sql: string, variable: string): boolean {
  const tokens = tokenize(sql);
  const stack: string[] = [];
  let clause = 'SELECT';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.text === '(') {
      stack.push(clause);
      continue;
    }
    if (t.text === ')') {
      clause = stack.pop() ?? clause;
      continue;
    }
    if (t.kind !== 'word') continue;
    const upper = t.text.toUpperCase();
    if (HARMLESS_CLAUSES.has(upper) || PLAN_CLAUSES.has(upper)) {
      clause = upper;
      continue;
    }
    if (t.text.toLowerCase() === variable.toLowerCase() && tokens[i - 1]?.text !== '.' && tokens[i + 1]?.text !== '.' && tokens[i + 1]?.text !== '(') {
      if (!HARMLESS_CLAUSES.has(clause)) return true;
    }
  }
  return false;
}
