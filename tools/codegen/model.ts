// Stage 3 of codegen: the catalogue, the headers and the observed calls become one model per
// routine — names, TypeScript-facing types and result-set shapes — that the emitter prints.
// Pure: no server, no files, so every rule here is testable alone.
import fs from 'fs';
import path from 'path';
import { FieldInfo, fieldKind, Kind, NOT_NULL_FLAG, RawSet, sqlTypeInfo } from '../../bindings/runtime';
import { UserError } from '../errors';
import { projectRoot } from '../project';
import { CatalogueParam, CatalogueRoutine } from './catalogue';
import { DeclaredColumn, RoutineHeader } from '../routines/header';
import { Observation, sourceKey } from './sandbox';

export interface TypeModel {
  kind: Kind;
  /** ENUM literals: the TypeScript type is their union. */
  enumValues?: string[];
  /** A JSON value's declared TypeScript type (header @json). */
  tsType?: string;
  nullable: boolean;
}

export interface ParamModel {
  name: string;
  prop: string;
  mode: CatalogueParam['mode'];
  /** The declared SQL type, normalised (lower case, no integer display widths). */
  sqlType: string;
  type: TypeModel;
}

export interface ColumnModel {
  name: string;
  prop: string;
  type: TypeModel;
}

export interface SetModel {
  prop: string;
  optional: boolean;
  columns: ColumnModel[];
}

export interface RoutineModel {
  name: string;
  kind: 'procedure' | 'function';
  /** camelCase function name. */
  fn: string;
  /** PascalCase prefix of the routine's type names. */
  typeName: string;
  /** kebab-case file name without .ts. */
  fileName: string;
  sqlDataAccess: string;
  readOnly: boolean;
  description: string[];
  file: string | null;
  params: ParamModel[];
  /** A function's return type. */
  returns: TypeModel | null;
  results: { mode: 'inferred' | 'declared' | 'untyped'; sets: SetModel[] };
}

export interface ModelResult {
  routines: RoutineModel[];
  warnings: string[];
}

const RESERVED = new Set(('break case catch class const continue debugger default delete do else enum export extends false finally for ' +
  'function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static ' +
  'implements interface package private protected public await arguments eval').split(' '));
const RESERVED_FILES = new Set(['index', 'runtime']);
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function camelCase(name: string): string {
  const camel = name.replace(/[_\s]+([A-Za-z0-9])/g, (_, c: string) => c.toUpperCase()).replace(/^[_\s]+/, '');
  return camel.charAt(0).toLowerCase() + camel.slice(1);
}

export function pascalCase(name: string): string {
  const camel = camelCase(name);
  return camel.charAt(0).toUpperCase() + camel.slice(1);
}

/** A property name: camelCase when the SQL name is an identifier, the name itself otherwise. */
export function propName(name: string): string {
  const camel = camelCase(name);
  return IDENTIFIER.test(camel) ? camel : name;
}

/** Parameters are named without their p_ prefix: p_campaign_id -> campaignId. */
export function paramProp(name: string): string {
  return propName(name.replace(/^p_(?=.)/, ''));
}

/** Lower case, integer display widths dropped (MariaDB writes "int(11)", MySQL "int"), TINYINT(1) kept. */
export function normaliseSqlType(sqlType: string): string {
  const text = sqlType.trim().replace(/\s+/g, ' ');
  const lower = text.replace(/^[a-z]+/i, (w) => w.toLowerCase()).replace(/ (unsigned|zerofill|signed)\b/gi, (w) => w.toLowerCase());
  return lower.replace(/^(smallint|mediumint|int|integer|bigint|year)\(\d+\)/, '$1').replace(/^tinyint\((?!1\))\d+\)/, 'tinyint');
}

function typeOfSql(sqlType: string, where: string): TypeModel {
  let info;
  try {
    info = sqlTypeInfo(sqlType);
  } catch (err) {
    throw new UserError(`${where}: ${(err as Error).message}`);
  }
  return { kind: info.kind, ...(info.enumValues ? { enumValues: info.enumValues } : {}), nullable: true };
}

/** The type of one result column: its source column's declared type when known, else the field metadata. */
export function columnType(field: FieldInfo, columns: Observation['columns'], rows: (Buffer | null)[][], index: number): TypeModel {
  const key = sourceKey(field);
  const source = key ? columns.get(key) : undefined;
  const sawNull = rows.some((r) => r[index] === null);
  const metadataNullable = (field.flags & NOT_NULL_FLAG) === 0;
  if (source) {
    const info = sqlTypeInfo(source.columnType);
    const kind: Kind = field.extendedFormat === 'json' || fieldKind(field) === 'json' ? 'json' : info.kind;
    return { kind, ...(info.enumValues && kind === 'text' ? { enumValues: info.enumValues } : {}), nullable: metadataNullable || source.nullable || sawNull };
  }
  return { kind: fieldKind(field), nullable: metadataNullable || sawNull };
}

function sameType(a: TypeModel, b: TypeModel): boolean {
  return a.kind === b.kind && JSON.stringify(a.enumValues ?? null) === JSON.stringify(b.enumValues ?? null);
}

function describeType(t: TypeModel): string {
  return t.enumValues ? `enum(${t.enumValues.map((v) => `'${v}'`).join(',')})` : t.kind;
}

function columnNames(set: RawSet): string {
  return `(${set.fields.map((f) => f.name).join(', ')})`;
}

function setColumns(set: RawSet, observation: Observation, where: string): ColumnModel[] {
  const seen = new Set<string>();
  return set.fields.map((f, i) => {
    const prop = propName(f.name);
    if (seen.has(prop)) throw new UserError(`${where}: the result set ${columnNames(set)} has two columns named ${prop}: give them distinct aliases`);
    seen.add(prop);
    return { name: f.name, prop, type: columnType(f, observation.columns, set.rows, i) };
  });
}

/** Result properties a result set may not take: the OUT values and the untyped sets. */
const RESERVED_SET_NAMES = new Set(['out', 'sets']);

function checkSetNames(header: RoutineHeader): void {
  for (const r of header.returns ?? []) {
    if (RESERVED_SET_NAMES.has(r.name)) throw new UserError(`${r.at}: @returns ${r.name}: "${r.name}" is reserved in a binding's result, choose another name`);
  }
}

function defaultSetProps(count: number): string[] {
  return count === 1 ? ['rows'] : Array.from({ length: count }, (_, i) => `rows${i + 1}`);
}

/** Inferred mode: every example must give the same sets; nullability is the union of what was seen. */
function inferSets(routine: CatalogueRoutine, header: RoutineHeader, observation: Observation): SetModel[] {
  const [first, ...rest] = observation.calls;
  const sets = first.sets.map((s) => setColumns(s, observation, first.at));
  for (const call of rest) {
    if (call.sets.length !== sets.length) {
      throw new UserError(`${call.at}: ${routine.name} returned ${call.sets.length} result set(s) here and ${sets.length} at ${first.at}: ` +
        'its shape depends on the arguments, so declare it in the header (-- @returns name[?]: column TYPE [NULL], ...)');
    }
    call.sets.forEach((s, i) => {
      const columns = setColumns(s, observation, call.at);
      const names = (cs: ColumnModel[]) => cs.map((c) => c.name).join(', ');
      if (names(columns) !== names(sets[i])) {
        throw new UserError(`${call.at}: result set ${i + 1} of ${routine.name} has columns (${names(columns)}) here and (${names(sets[i])}) at ${first.at}: ` +
          'declare the shapes in the header (-- @returns name[?]: column TYPE [NULL], ...)');
      }
      columns.forEach((c, j) => {
        const known = sets[i][j];
        if (!sameType(c.type, known.type)) {
          throw new UserError(`${call.at}: column ${c.name} of result set ${i + 1} is ${describeType(c.type)} here and ${describeType(known.type)} at ${first.at}`);
        }
        known.type.nullable ||= c.type.nullable;
      });
    });
  }
  const named = header.returns ?? [];
  if (named.length && named.length !== sets.length) {
    throw new UserError(`${named[0].at}: the header names ${named.length} result set(s) (${named.map((r) => r.name).join(', ')}) but ${routine.name} returned ${sets.length} at ${first.at}`);
  }
  const props = named.length ? named.map((r) => r.name) : defaultSetProps(sets.length);
  return sets.map((columns, i) => ({ prop: props[i], optional: false, columns }));
}

function declaredColumn(c: DeclaredColumn, where: string): ColumnModel {
  const type = typeOfSql(c.sqlType, `${where}: column ${c.name}`);
  return { name: c.name, prop: propName(c.name), type: { ...type, nullable: c.nullable } };
}

/** Declared mode: check every example's sets against the declaration, as the runtime will match them. */
function checkDeclaredSets(routine: CatalogueRoutine, header: RoutineHeader, observation: Observation): SetModel[] {
  const declared = header.returns!.map((r) => {
    const seen = new Set<string>();
    const columns = r.columns!.map((c) => {
      const col = declaredColumn(c, r.at);
      if (seen.has(col.prop)) throw new UserError(`${r.at}: @returns ${r.name}: two columns named ${col.prop}`);
      seen.add(col.prop);
      return col;
    });
    return { prop: r.name, optional: r.optional, columns, at: r.at };
  });
  for (const call of observation.calls) {
    let next = 0;
    const returned = new Set<string>();
    for (const set of call.sets) {
      const names = set.fields.map((f) => f.name).join(', ');
      let j = next;
      while (j < declared.length && declared[j].columns.map((c) => c.name).join(', ') !== names) j++;
      if (j === declared.length) {
        throw new UserError(`${call.at}: ${routine.name} returned a result set (${names}) that no @returns declaration matches ` +
          `(declared: ${declared.map((d) => `${d.prop}(${d.columns.map((c) => c.name).join(', ')})`).join(', ') || 'none'})`);
      }
      const d = declared[j];
      const observed = setColumns(set, observation, call.at);
      observed.forEach((o, i) => {
        const want = d.columns[i];
        // A declared VARCHAR may stand for an ENUM column (a wider type), and an expression has no literals to compare.
        const textCompatible = want.type.kind === 'text' && o.type.kind === 'text' && (!want.type.enumValues || !o.type.enumValues);
        if (!sameType(o.type, want.type) && !textCompatible) {
          throw new UserError(`${d.at}: @returns ${d.prop}: column ${want.name} is declared ${describeType(want.type)} but ${routine.name} returned ${describeType(o.type)} at ${call.at}`);
        }
        if (!want.type.nullable && set.rows.some((r) => r[i] === null)) {
          throw new UserError(`${d.at}: @returns ${d.prop}: column ${want.name} is declared NOT NULL but ${routine.name} returned NULL at ${call.at}`);
        }
      });
      returned.add(d.prop);
      next = j + 1;
    }
    const missing = declared.find((d) => !d.optional && !returned.has(d.prop));
    if (missing) {
      throw new UserError(`${missing.at}: @returns ${missing.prop} is declared as always returned but ${routine.name} did not return it at ${call.at} (mark it optional: ${missing.prop}?)`);
    }
  }
  return declared.map(({ prop, optional, columns }) => ({ prop, optional, columns }));
}

function applyJson(header: RoutineHeader, routine: CatalogueRoutine, params: ParamModel[], returns: TypeModel | null, sets: SetModel[]): void {
  for (const [name, tsType] of header.json) {
    const targets: TypeModel[] = [];
    for (const p of params) if (p.name === name || p.name.replace(/^p_/, '') === name) targets.push(p.type);
    if (name === 'return' && returns) targets.push(returns);
    for (const s of sets) for (const c of s.columns) if (c.name === name) targets.push(c.type);
    if (!targets.length) throw new UserError(`${header.file ?? routine.name}: @json ${name}: ${routine.name} has no parameter or result column named ${name}`);
    for (const t of targets) {
      // A text value may be declared JSON: MariaDB keeps no trace of JSON in a function's return type.
      if (t.kind !== 'json' && !(t.kind === 'text' && !t.enumValues)) {
        throw new UserError(`${header.file ?? routine.name}: @json ${name}: ${name} is ${t.kind}, not JSON or text`);
      }
      t.kind = 'json';
      t.tsType = tsType;
    }
  }
}

export interface BuildOptions {
  /** Fail instead of warning when a procedure's result sets cannot be typed (no @example). */
  strict?: boolean;
}

/** Builds the model of one routine. `observation` is null when the procedure could not be called. */
export function buildRoutineModel(routine: CatalogueRoutine, header: RoutineHeader, observation: Observation | null, options: BuildOptions = {}, warnings: string[] = []): RoutineModel {
  const where = header.file ?? routine.name;
  if (!/^[A-Za-z0-9_$]+$/.test(routine.name)) throw new UserError(`${routine.name}: routine names must be plain identifiers to be bound`);
  const seen = new Set<string>();
  const params: ParamModel[] = routine.params.map((p) => {
    const prop = paramProp(p.name);
    if (seen.has(prop)) throw new UserError(`${where}: parameters of ${routine.name} collide as "${prop}"`);
    seen.add(prop);
    return { name: p.name, prop, mode: p.mode, sqlType: normaliseSqlType(p.sqlType), type: typeOfSql(p.sqlType, `${where}: parameter ${p.name}`) };
  });
  const returns = routine.returns === null ? null : typeOfSql(routine.returns, `${where}: return type`);
  let results: RoutineModel['results'] = { mode: 'inferred', sets: [] };
  checkSetNames(header);
  if (routine.kind === 'procedure') {
    if (!observation) {
      const reason = `${where}: ${routine.name} has parameters but no "-- @example" in its header: its result sets are untyped`;
      if (header.returns) throw new UserError(`${where}: @returns needs an @example: the generator checks declarations against a real call`);
      if (options.strict) throw new UserError(reason);
      warnings.push(reason);
      results = { mode: 'untyped', sets: [] };
    } else if (header.returns && (header.returns.length === 0 || header.returns[0].columns !== null)) {
      results = { mode: 'declared', sets: checkDeclaredSets(routine, header, observation) };
    } else {
      results = { mode: 'inferred', sets: inferSets(routine, header, observation) };
    }
  } else if (header.returns || header.examples.length) {
    throw new UserError(`${where}: @returns and @example are for procedures; ${routine.name} is a function`);
  }
  applyJson(header, routine, params, returns, results.sets);
  const fn = camelCase(routine.name);
  const description = header.description.length ? header.description : routine.comment ? [routine.comment] : [];
  return {
    name: routine.name,
    kind: routine.kind,
    fn: RESERVED.has(fn) ? `${fn}Routine` : fn,
    typeName: pascalCase(routine.name),
    fileName: routine.name.toLowerCase().replace(/_/g, '-'),
    sqlDataAccess: routine.sqlDataAccess,
    readOnly: routine.sqlDataAccess === 'READS SQL DATA' || routine.sqlDataAccess === 'NO SQL',
    description,
    file: header.file,
    params,
    returns,
    results,
  };
}

/** Every name the runtime exports: the index re-exports them next to the bindings. */
function runtimeExports(): Set<string> {
  const source = fs.readFileSync(path.join(projectRoot(), 'bindings', 'runtime.ts'), 'utf8');
  return new Set([...source.matchAll(/^export (?:declare )?(?:abstract )?(?:class|function|interface|type|const|let|enum|async function) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]));
}

/** The row type of a result set: <Routine>Row for a single unnamed set, else <Routine><Set>Row. */
export function setTypeName(r: RoutineModel, s: SetModel): string {
  return r.results.sets.length === 1 && s.prop === 'rows' ? `${r.typeName}Row` : `${r.typeName}${s.prop.charAt(0).toUpperCase()}${s.prop.slice(1)}Row`;
}

/** The names a routine's file exports. */
export function exportedNames(r: RoutineModel): string[] {
  const names = [r.fn, `${r.typeName}Result`];
  if (r.params.some((p) => p.mode !== 'OUT')) names.push(`${r.typeName}Args`);
  if (r.params.some((p) => p.mode !== 'IN')) names.push(`${r.typeName}Out`);
  for (const s of r.results.sets) names.push(setTypeName(r, s));
  return names;
}

/** Checks what only the whole set of routines can show: two routines generating the same names. */
export function checkCollisions(routines: RoutineModel[]): void {
  const reserved = runtimeExports();
  const owner = new Map<string, string>();
  for (const r of routines) {
    for (const name of exportedNames(r)) {
      if (reserved.has(name)) throw new UserError(`routine ${r.name} would export ${name}, a name of the bindings' runtime: rename the routine or its @returns set`);
      if (owner.has(name) && owner.get(name) !== r.name) throw new UserError(`routines ${owner.get(name)} and ${r.name} both generate ${name}`);
      owner.set(name, r.name);
    }
  }
  const by = (key: (r: RoutineModel) => string, what: string) => {
    const seen = new Map<string, string>();
    for (const r of routines) {
      const k = key(r).toLowerCase();
      if (seen.has(k)) throw new UserError(`routines ${seen.get(k)} and ${r.name} both generate the ${what} "${key(r)}"`);
      seen.set(k, r.name);
    }
  };
  by((r) => r.fn, 'function');
  by((r) => r.typeName, 'type prefix');
  by((r) => r.fileName, 'file');
  for (const r of routines) if (RESERVED_FILES.has(r.fileName)) throw new UserError(`routine ${r.name} would generate ${r.fileName}.ts, a name the bindings reserve`);
}
