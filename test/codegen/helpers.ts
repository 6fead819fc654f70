// Shared set-up of the codegen specs: the fixture project (test/codegen/fixtures/project: tables in
// schema/, one routine per file in procedures/) loaded into a throwaway database, and the golden
// bindings generated from it (test/codegen/golden).
import fs from 'fs';
import path from 'path';
import { Connection, withConnection } from '../../tools/sql/connection';

export const CODEGEN_TEST_DIR = __dirname;
export const FIXTURE_PROJECT = path.join(__dirname, 'fixtures', 'project');
export const GOLDEN_DIR = path.join(__dirname, 'golden');

/**
 * The statements of a .sql file as the mysql client would send them: DELIMITER lines change the
 * terminator. Enough for the fixture files, which keep one statement per terminator at a line end
 * (the project's full splitter lives in tools/sql and is exercised by --from-checkout).
 */
export function fixtureStatements(sql: string): string[] {
  const statements: string[] = [];
  let delimiter = ';';
  let buffer = '';
  for (const line of sql.split(/\r?\n/)) {
    const d = /^\s*DELIMITER\s+(\S+)\s*$/i.exec(line);
    if (d) {
      delimiter = d[1];
      continue;
    }
    buffer += line + '\n';
    const trimmed = buffer.trimEnd();
    if (trimmed.endsWith(delimiter)) {
      const statement = trimmed.slice(0, -delimiter.length);
      if (statement.split('\n').some((l) => l.trim() && !l.trim().startsWith('--'))) statements.push(statement);
      buffer = '';
    }
  }
  if (buffer.split('\n').some((l) => l.trim() && !l.trim().startsWith('--'))) throw new Error(`unterminated statement: ${buffer.slice(0, 80)}`);
  return statements;
}

export function projectFiles(dir = FIXTURE_PROJECT): string[] {
  const list = (sub: string, filter: (f: string) => boolean) => {
    const folder = path.join(dir, sub);
    return fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.endsWith('.sql') && filter(f)).sort().map((f) => path.join(folder, f)) : [];
  };
  return [...list('schema', (f) => !f.endsWith('.down.sql')), ...list('procedures', () => true)];
}

export async function runFixtureFile(conn: Connection, file: string): Promise<void> {
  for (const statement of fixtureStatements(fs.readFileSync(file, 'utf8'))) {
    try {
      await conn.query(statement);
    } catch (err) {
      throw new Error(`${path.relative(CODEGEN_TEST_DIR, file)}: ${(err as Error).message}`);
    }
  }
}

/** Creates the fixture project's tables and routines in the database at url. */
export async function loadFixtureProject(url: string, dir = FIXTURE_PROJECT): Promise<void> {
  await withConnection(url, async (conn) => {
    for (const file of projectFiles(dir)) await runFixtureFile(conn, file);
  });
}
