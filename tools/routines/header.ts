// The routine header: the comment block at the top of procedures/<routine>.sql, read for the
// binding's documentation and for the tags that let the generator call the routine.
//
//   -- claim_batch: a worker takes up to max_rows ready messages.   (first paragraph = JSDoc)
//   -- @setup INSERT INTO campaigns (id, name) VALUES (1, 'c')      (one statement; runs first)
//   -- @example campaign_id=1 run_type='immediate' max_rows=10       (one call per line)
//   -- @returns batch                                                (names the next inferred set)
//   -- @returns detail?: id INT NOT NULL, label VARCHAR(64) NULL     (declares a set; ? = optional)
//   -- @returns none                                                 (declares: no result set)
//   -- @json payload { kind: string }                                (a JSON value's TS type; also
//                                                                    marks text as JSON: MariaDB
//                                                                    reports a function's JSON as LONGTEXT)
//   -- @internal                                                     (no binding)
//   -- @grant application, reporting                                 (database roles (application,
//                                                                    reporting, auth) that may
//                                                                    EXECUTE it; none: owner only)
//
// A tag continues on the next comment lines indented past its "@". Example values are SQL
// expressions: 'text', 12, NULL, NOW(), (1 + 2); a parameter missing from an example is NULL.
// Parameters are named as in SQL or without their p_ prefix.
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';

export interface Located {
  /** file:line, for messages. */
  at: string;
}

export interface HeaderExample extends Located {
  /** Parameter name (as written) -> SQL expression. */
  args: [string, string][];
}

export interface HeaderSetup extends Located {
  sql: string;
}

export interface DeclaredColumn {
  name: string;
  sqlType: string;
  nullable: boolean;
}

export interface HeaderReturns extends Located {
  name: string;
  optional: boolean;
  /** null: the set's shape is inferred from the examples; a list: the declared shape. */
  columns: DeclaredColumn[] | null;
}

export interface RoutineHeader {
  /** Path of the file, relative to the project folder (or null without one). */
  file: string | null;
  /** The header's first paragraph, without comment markers. */
  description: string[];
  setup: HeaderSetup[];
  examples: HeaderExample[];
  /** null when the header has no @returns; [] for "@returns none". */
  returns: HeaderReturns[] | null;
  /** JSON parameter/column name (or "return") -> TypeScript type. */
  json: Map<string, string>;
  internal: boolean;
  /** Database roles granted EXECUTE on the routine (`reminderly-db users`); empty: the owner only. */
  grants: GrantRole[];
}

/**
 * The roles a routine header may grant EXECUTE to; the migrator role owns every routine. auth is
 * the auth service's account: the only one that may issue end-user sessions (tools/users/README.md).
 */
export const GRANT_ROLES = ['application', 'reporting', 'auth'] as const;
export type GrantRole = (typeof GRANT_ROLES)[number];

export const EMPTY_HEADER: RoutineHeader = {
  file: null, description: [], setup: [], examples: [], returns: null, json: new Map(), internal: false, grants: [],
};

const KNOWN_TAGS = new Set(['example', 'setup', 'returns', 'json', 'internal', 'grant']);

/** Splits text at `separator` outside quotes and parentheses. */
export function splitTopLevel(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) {
        if (text[i + 1] === quote) i++;
        else quote = null;
      }
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0 && separator.test(c)) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quote || depth) throw new Error(quote ? `unterminated ${quote}` : 'unbalanced parentheses');
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function parseExample(text: string, at: string): HeaderExample {
  let tokens: string[];
  try {
    tokens = splitTopLevel(text, /\s/);
  } catch (err) {
    throw new UserError(`${at}: @example: ${(err as Error).message}`);
  }
  const args: [string, string][] = [];
  for (const token of tokens) {
    const m = /^([A-Za-z_$][A-Za-z0-9_$]*)=([\s\S]+)$/.exec(token);
    if (!m) throw new UserError(`${at}: @example: expected name=value, got "${token}"`);
    if (args.some(([name]) => name === m[1])) throw new UserError(`${at}: @example: ${m[1]} given twice`);
    args.push([m[1], m[2]]);
  }
  return { at, args };
}

function parseReturns(text: string, at: string): HeaderReturns | 'none' {
  if (/^none$/i.test(text.trim())) return 'none';
  const m = /^([A-Za-z_$][A-Za-z0-9_$]*)(\?)?\s*(?::([\s\S]*))?$/.exec(text.trim());
  if (!m) throw new UserError(`${at}: @returns: expected "name", "name: column TYPE [NULL], ..." or "none", got "${text.trim()}"`);
  const [, name, optional, columnText] = m;
  if (columnText === undefined) {
    if (optional) throw new UserError(`${at}: @returns ${name}?: an optional set must declare its columns`);
    return { at, name, optional: false, columns: null };
  }
  let parts: string[];
  try {
    parts = splitTopLevel(columnText, /,/);
  } catch (err) {
    throw new UserError(`${at}: @returns ${name}: ${(err as Error).message}`);
  }
  if (!parts.length) throw new UserError(`${at}: @returns ${name}: no columns after ":"`);
  const columns = parts.map((part) => {
    const c = /^`?([^`\s]+)`?\s+([\s\S]+?)(\s+NOT\s+NULL|\s+NULL)?$/i.exec(part);
    if (!c) throw new UserError(`${at}: @returns ${name}: expected "column TYPE [NULL]", got "${part}"`);
    return { name: c[1], sqlType: c[2].trim(), nullable: /^\s+NULL$/i.test(c[3] ?? '') };
  });
  return { at, name, optional: Boolean(optional), columns };
}

interface TagLine {
  tag: string;
  text: string;
  line: number;
}

/** Parses the header (the leading comment block) of a routine's .sql file. */
export function parseHeader(sql: string, file: string | null): RoutineHeader {
  const lines = sql.replace(/^\uFEFF/, '').split(/\r?\n/);
  const block: { text: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*$/.test(line)) {
      block.push({ text: '', line: i + 1 });
      continue;
    }
    if (!/^\s*--/.test(line)) break;
    block.push({ text: line.replace(/^\s*--/, ''), line: i + 1 });
  }
  const where = (line: number) => `${file ?? 'header'}:${line}`;
  const tags: TagLine[] = [];
  const prose: { text: string; line: number }[] = [];
  let current: { tag: TagLine; indent: number } | null = null;
  for (const { text, line } of block) {
    const tag = /^(\s*)@([A-Za-z]+)\b(.*)$/.exec(text);
    if (tag) {
      if (!KNOWN_TAGS.has(tag[2])) throw new UserError(`${where(line)}: unknown header tag @${tag[2]} (known: ${[...KNOWN_TAGS].map((t) => '@' + t).join(', ')})`);
      const t = { tag: tag[2], text: tag[3].trim(), line };
      tags.push(t);
      current = { tag: t, indent: tag[1].length };
      continue;
    }
    const indent = (/^\s*/.exec(text) ?? [''])[0].length;
    if (current && text.trim() && indent > current.indent) {
      current.tag.text += (current.tag.tag === 'setup' ? '\n' : ' ') + text.trim();
      continue;
    }
    current = null;
    prose.push({ text: text.replace(/^ /, '').trimEnd(), line });
  }
  // The first paragraph of prose is the binding's documentation.
  const description: string[] = [];
  for (const p of prose) {
    if (!p.text.trim()) {
      if (description.length) break;
      continue;
    }
    description.push(p.text);
  }

  const header: RoutineHeader = { file, description, setup: [], examples: [], returns: null, json: new Map(), internal: false, grants: [] };
  for (const t of tags) {
    const at = where(t.line);
    switch (t.tag) {
      case 'example':
        header.examples.push(parseExample(t.text, at));
        break;
      case 'setup':
        if (!t.text) throw new UserError(`${at}: @setup needs an SQL statement`);
        header.setup.push({ at, sql: t.text.replace(/;\s*$/, '') });
        break;
      case 'returns': {
        const r = parseReturns(t.text, at);
        header.returns ??= [];
        if (r === 'none') {
          if (header.returns.length || tags.filter((x) => x.tag === 'returns').length > 1) {
            throw new UserError(`${at}: @returns none cannot be combined with other @returns lines`);
          }
        } else {
          if (header.returns.some((x) => x.name === r.name)) throw new UserError(`${at}: @returns ${r.name} declared twice`);
          header.returns.push(r);
        }
        break;
      }
      case 'json': {
        const m = /^([A-Za-z_$][A-Za-z0-9_$]*)\s+(\S[\s\S]*)$/.exec(t.text);
        if (!m) throw new UserError(`${at}: @json: expected "name TypeScriptType"`);
        header.json.set(m[1], m[2].trim());
        break;
      }
      case 'internal':
        header.internal = true;
        break;
      case 'grant':
        for (const role of t.text.split(/[\s,]+/).filter((r) => r !== '')) {
          if (!(GRANT_ROLES as readonly string[]).includes(role)) {
            throw new UserError(`${at}: @grant: unknown role "${role}" (known: ${GRANT_ROLES.join(', ')})`);
          }
          if (!header.grants.includes(role as GrantRole)) header.grants.push(role as GrantRole);
        }
        if (!header.grants.length) throw new UserError(`${at}: @grant needs a role (${GRANT_ROLES.join(', ')})`);
        break;
    }
  }
  if (header.returns && header.returns.length) {
    const declared = header.returns.filter((r) => r.columns !== null).length;
    if (declared && declared !== header.returns.length) {
      throw new UserError(`${header.returns[0].at}: @returns: either declare the columns of every result set or of none`);
    }
  }
  return header;
}

/** The header of a routine from <routinesDir>/<name>.sql, or an empty header when there is no such file. */
export function readHeader(routinesDir: string, projectDir: string, routine: string): RoutineHeader {
  const file = path.join(routinesDir, `${routine}.sql`);
  if (!fs.existsSync(file)) return { ...EMPTY_HEADER, json: new Map(), grants: [] };
  const rel = path.relative(projectDir, file);
  const shown = rel.startsWith('..') ? file : rel.split(path.sep).join('/');
  return parseHeader(fs.readFileSync(file, 'utf8'), shown);
}
