// Golden tests (sqlc style): the fixture routines' bindings are committed under test/codegen/golden;
// the spec regenerates them from a real server and diffs. UPDATE_GOLDEN=1 rewrites the files.
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { compareWithDisk, generateBindings, Generated, writeBindings } from '../../tools/codegen/codegen';
import { FIXTURE_PROJECT, GOLDEN_DIR, loadFixtureProject } from './helpers';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

/** The first differing line of two texts, for a readable failure. */
function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}:\n  committed: ${a[i]}\n  generated: ${b[i]}`;
  }
  return 'no difference';
}

describe('codegen golden bindings', function () {
  this.timeout(120_000);
  const db = useThrowawayDatabase({ label: 'cg_golden' });
  let generated: Generated;

  before(async () => {
    await loadFixtureProject(db.url);
    generated = await generateBindings({ url: db.url, dir: FIXTURE_PROJECT, out: GOLDEN_DIR });
    if (process.env.UPDATE_GOLDEN) writeBindings(generated);
  });

  it('regenerates exactly the committed files', () => {
    const diffs = compareWithDisk(generated);
    const details = diffs.map((d) => {
      const file = path.join(GOLDEN_DIR, d.file);
      const detail = d.problem === 'differs' ? '\n' + firstDifference(fs.readFileSync(file, 'utf8'), generated.files.get(d.file)!) : '';
      return `${d.file}: ${d.problem}${detail}`;
    });
    expect(details, 'run with UPDATE_GOLDEN=1 after an intended change').to.deep.equal([]);
  });

  it('generates identical bytes a second time', async () => {
    const again = await generateBindings({ url: db.url, dir: FIXTURE_PROJECT, out: GOLDEN_DIR });
    expect([...again.files.keys()]).to.deep.equal([...generated.files.keys()]);
    for (const [name, text] of generated.files) expect(again.files.get(name), name).to.equal(text);
  });

  it('binds every routine but the @internal one, and warns about the one without @example', () => {
    expect(generated.routines.map((r) => r.name)).to.deep.equal([
      'cg_check_label', 'cg_get_item', 'cg_item_events', 'cg_label_of', 'cg_now_items', 'cg_param_modes', 'cg_put_item', 'cg_report',
      'cg_tag_doc', 'cg_untyped',
    ]);
    expect(generated.warnings).to.have.length(1);
    expect(generated.warnings[0]).to.match(/cg_untyped\.sql: cg_untyped has parameters but no "-- @example"/);
  });

  it('reports read-only routines from SQL_DATA_ACCESS', () => {
    const readOnly = Object.fromEntries(generated.routines.map((r) => [r.name, r.readOnly]));
    expect(readOnly).to.include({ cg_get_item: true, cg_put_item: false, cg_check_label: true, cg_tag_doc: true });
  });

  it('fails with --strict on a procedure whose result sets cannot be typed', async () => {
    const err = await generateBindings({ url: db.url, dir: FIXTURE_PROJECT, out: GOLDEN_DIR, strict: true }).then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/cg_untyped has parameters but no "-- @example"/);
  });
});
