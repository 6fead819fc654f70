// The migration files in the checkout: versioned files in schema/, indexes/ and seeds/ form one
// ordered history; procedures/ holds repeatable files, re-applied when their checksum changes.
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { UserError } from '../errors';
import { projectRoot, REPEATABLE_DIR, VERSIONED_DIRS } from '../project';

export { REPEATABLE_DIR, VERSIONED_DIRS };

/** V<version>__<description>.sql, Flyway's convention; the down section is the sibling .down.sql. */
const VERSIONED_FILE = /^V(\d+)__([a-z0-9_]+)\.sql$/;
const DOWN_FILE = /\.down\.sql$/;
const REPEATABLE_FILE = /^([a-z0-9_]+)\.sql$/;

export type MigrationKind = 'versioned' | 'repeatable';

export interface MigrationSource {
  kind: MigrationKind;
  /** Ledger key: the path relative to the project root without .sql, e.g. "schema/V0001__companies". */
  name: string;
  /** Null for repeatable files. */
  version: number | null;
  path: string;
  downPath: string | null;
  checksum: string;
  sql: string;
}


export function readSql(file: string): string {
  return fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
}

/** Checksum of a file's meaning rather than its bytes: line endings and trailing blanks do not count. */
export function checksumOf(sql: string): string {
  const normalised = sql.replace(/\r\n?/g, '\n').replace(/[ \t]+$/gm, '').trimEnd() + '\n';
  return createHash('sha256').update(normalised).digest('hex');
}

function listSqlFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
}

function load(root: string, relDir: string, file: string, kind: MigrationKind, version: number | null): MigrationSource {
  const full = path.join(root, relDir, file);
  const sql = readSql(full);
  const downFull = full.replace(/\.sql$/, '.down.sql');
  return {
    kind,
    name: `${relDir}/${file.replace(/\.sql$/, '')}`,
    version,
    path: full,
    downPath: kind === 'versioned' && fs.existsSync(downFull) ? downFull : null,
    checksum: checksumOf(sql),
    sql,
  };
}

/**
 * Every migration in the checkout, versioned ones in version order, then repeatable ones by name.
 * A misnamed file or a version used twice is a UserError naming the files: guessing an order
 * for a DBA's schema is worse than refusing.
 */
/** A project folder has schema/ (the versioned migrations): anything else is a mistyped --dir. */
export function checkProjectFolder(root: string): void {
  let isFolder = false;
  try {
    isFolder = fs.statSync(path.join(root, 'schema')).isDirectory();
  } catch {
    isFolder = false;
  }
  if (!isFolder) throw new UserError(`${root} is not a reminderly-db project: it has no schema/ folder (check --dir)`);
}

export function discoverMigrations(root = projectRoot()): MigrationSource[] {
  checkProjectFolder(root);
  const versioned: MigrationSource[] = [];
  for (const dir of VERSIONED_DIRS) {
    for (const file of listSqlFiles(path.join(root, dir))) {
      if (DOWN_FILE.test(file)) {
        if (!fs.existsSync(path.join(root, dir, file.replace(DOWN_FILE, '.sql')))) {
          throw new UserError(`${dir}/${file}: down file without its up file`);
        }
        continue;
      }
      const match = VERSIONED_FILE.exec(file);
      if (!match) throw new UserError(`${dir}/${file}: not a versioned migration name (expected V<number>__<lowercase_description>.sql)`);
      versioned.push(load(root, dir, file, 'versioned', Number(match[1])));
    }
  }
  versioned.sort((a, b) => a.version! - b.version!);
  for (let i = 1; i < versioned.length; i++) {
    if (versioned[i].version === versioned[i - 1].version) {
      throw new UserError(`version ${versioned[i].version} is used twice: ${versioned[i - 1].name}.sql and ${versioned[i].name}.sql`);
    }
  }
  const repeatable = listSqlFiles(path.join(root, REPEATABLE_DIR)).map((file) => {
    if (!REPEATABLE_FILE.test(file)) throw new UserError(`${REPEATABLE_DIR}/${file}: expected <routine_name>.sql in lowercase`);
    return load(root, REPEATABLE_DIR, file, 'repeatable', null);
  });
  return [...versioned, ...repeatable];
}

/** Resolves what a user typed (a path, a name with or without .sql) to a migration name. */
export function migrationNameFrom(input: string, root = projectRoot()): string {
  const relative = path.isAbsolute(input) ? path.relative(root, input) : input;
  return relative.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\.sql$/, '');
}
