// The generator checks headers against real calls: a @returns declaration that a call contradicts,
// examples that disagree on an inferred shape, or an example that fails, stop the generation with
// the header's file:line. Each case rewrites one routine's header in a scratch copy of the fixture
// procedures (the routines in the database stay the same; only the headers change).
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { generateBindings } from '../../tools/codegen/codegen';
import { withConnection } from '../../tools/sql/connection';
import { FIXTURE_PROJECT, GOLDEN_DIR, loadFixtureProject } from './helpers';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const REPORT_HEADER = /^(-- @returns.*\n)+/m;

describe('codegen checks headers against real calls', function () {
  this.timeout(120_000);
  const db = useThrowawayDatabase({ label: 'cg_decl' });
  let routines: string;

  before(async () => {
    await loadFixtureProject(db.url);
    // Only the routine under test matters here: keep the others out of the database.
    await withConnection(db.url, async (conn) => {
      const [rows] = await conn.query("SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME NOT IN ('cg_report', 'cg_item_events')");
      for (const r of rows as { ROUTINE_NAME: string; ROUTINE_TYPE: string }[]) await conn.query(`DROP ${r.ROUTINE_TYPE} \`${r.ROUTINE_NAME}\``);
    });
  });

  beforeEach(() => {
    routines = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-headers-'));
    fs.cpSync(path.join(FIXTURE_PROJECT, 'procedures'), routines, { recursive: true });
  });

  afterEach(() => fs.rmSync(routines, { recursive: true, force: true }));

  function editHeader(routine: string, edit: (sql: string) => string): void {
    const file = path.join(routines, `${routine}.sql`);
    fs.writeFileSync(file, edit(fs.readFileSync(file, 'utf8')));
  }

  const generate = () => generateBindings({ url: db.url, dir: FIXTURE_PROJECT, routinesDir: routines, out: GOLDEN_DIR })
    .then(() => null, (e: Error) => e.message);

  it('accepts the fixture headers as they are', async () => {
    expect(await generate()).to.equal(null);
  });

  it('fails when a declared column type differs from what the call returns', async () => {
    editHeader('cg_report', (sql) => sql.replace('item_count BIGINT', 'item_count INT'));
    expect(await generate()).to.match(/^\/.*\/cg_report\.sql:6: @returns summary: column item_count is declared int but cg_report returned bigint at .*cg_report\.sql:4$/);
  });

  it('fails when a column declared NOT NULL comes back NULL', async () => {
    // Without the @setup row, SUM(qty) over no rows is NULL.
    editHeader('cg_report', (sql) => sql.replace('total_qty DECIMAL(32,0) NULL', 'total_qty DECIMAL(32,0)').replace(/-- @setup [^\n]*\n/, ''));
    expect(await generate()).to.match(/@returns summary: column total_qty is declared NOT NULL but cg_report returned NULL/);
  });

  it('fails when a call returns a set no declaration matches', async () => {
    editHeader('cg_report', (sql) => sql.replace('id BIGINT UNSIGNED, label VARCHAR(100)', 'id BIGINT UNSIGNED, name VARCHAR(100)'));
    expect(await generate()).to.match(/cg_report\.sql:5: cg_report returned a result set \(id, label, status\) that no @returns declaration matches/);
  });

  it('fails when a set declared as always returned is missing from a call', async () => {
    editHeader('cg_report', (sql) => sql.replace('@returns detail?:', '@returns detail:'));
    expect(await generate()).to.match(/@returns detail is declared as always returned but cg_report did not return it at .*cg_report\.sql:4 \(mark it optional: detail\?\)/);
  });

  it('fails when examples of an undeclared procedure return different shapes, asking for a declaration', async () => {
    editHeader('cg_report', (sql) => sql.replace(REPORT_HEADER, ''));
    expect(await generate()).to.match(/cg_report\.sql:5: result set 1 of cg_report has columns \(id, label, status\) here and \(item_count, total_qty\) at .*: declare the shapes in the header/);
  });

  it('fails when the header names more result sets than the calls return', async () => {
    editHeader('cg_item_events', (sql) => sql.replace('-- @returns events', '-- @returns events\n-- @returns extra'));
    expect(await generate()).to.match(/the header names 3 result set\(s\) \(item, events, extra\) but cg_item_events returned 2/);
  });

  it('fails with the SQL error when an @example or @setup does not run', async () => {
    editHeader('cg_item_events', (sql) => sql.replace('-- @example id=7', '-- @example id=(SELECT no_such_column FROM cg_items)'));
    expect(await generate()).to.match(/cg_item_events\.sql:6: @example failed: CALL `cg_item_events`\(\(SELECT no_such_column FROM cg_items\)\): SQLSTATE 42S22/);
    editHeader('cg_item_events', (sql) => sql.replace("VALUES (7, 'created', NULL)", "VALUES (7, 'no such kind column', NULL, 1)"));
    expect(await generate()).to.match(/cg_item_events\.sql:4: @setup failed: SQLSTATE 21S01/);
  });

  it('leaves no throwaway copy behind, whatever failed', async () => {
    editHeader('cg_report', (sql) => sql.replace('item_count BIGINT', 'item_count INT'));
    await generate();
    const left = await withConnection(db.url, async (conn) => {
      const [rows] = await conn.query(`SHOW DATABASES LIKE 'rdbt\\_%\\_${process.pid}\\_%\\_cg%'`);
      return (rows as Record<string, string>[]).map((r) => Object.values(r)[0]).filter((n) => n !== db.name);
    });
    expect(left).to.deep.equal([]);
  });
});
