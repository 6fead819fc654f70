// Type-level tests of the generated bindings: test/codegen/fixtures/types/*.fail.ts each misuse a
// golden binding once, on the line after a "// FAILS: TSxxxx" marker, and must fail `tsc --noEmit`
// there and only there; correct-calls.ts must compile. One tsc run checks them all (its tsconfig
// is in the fixture folder: `npx tsc -p test/codegen/fixtures/types` shows the same errors).
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { PROJECT_ROOT } from '../helpers/cli';

const TYPES_DIR = path.join(__dirname, 'fixtures', 'types');

interface Diagnostic {
  file: string;
  line: number;
  code: string;
  message: string;
}

/** `tsc --noEmit -p test/codegen/fixtures/types` (every .ts there, the .fail.ts ones included). */
function compile(): Diagnostic[] {
  const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', TYPES_DIR, '--pretty', 'false'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
  const diagnostics: Diagnostic[] = [];
  for (const line of (result.stdout + result.stderr).split('\n')) {
    const m = /^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line);
    if (m) diagnostics.push({ file: path.resolve(PROJECT_ROOT, m[1]), line: Number(m[2]), code: m[3], message: m[4] });
  }
  if (result.status !== 0 && !diagnostics.length) throw new Error(`tsc failed without diagnostics: ${result.stdout}${result.stderr}`);
  return diagnostics;
}

describe('codegen bindings at the type level', function () {
  this.timeout(120_000);
  const failing = fs.readdirSync(TYPES_DIR).filter((f) => f.endsWith('.fail.ts')).sort();
  let diagnostics: Diagnostic[];

  before(() => {
    diagnostics = compile();
  });

  it('has the expected fixtures', () => {
    expect(failing).to.include.members(['missing-argument.fail.ts', 'missing-column.fail.ts', 'wrong-argument-type.fail.ts']);
  });

  it('compiles the correct calls and the golden bindings without an error', () => {
    const elsewhere = diagnostics.filter((d) => !d.file.endsWith('.fail.ts'));
    expect(elsewhere.map((d) => `${path.relative(PROJECT_ROOT, d.file)}:${d.line} ${d.code} ${d.message}`)).to.deep.equal([]);
  });

  for (const file of failing) {
    it(`rejects ${file} exactly where it is marked`, () => {
      const full = path.join(TYPES_DIR, file);
      const lines = fs.readFileSync(full, 'utf8').split('\n');
      const marker = lines.findIndex((l) => /\/\/ FAILS: TS\d+/.test(l));
      expect(marker, 'a "// FAILS: TSxxxx" marker').to.be.greaterThan(-1);
      const code = /TS\d+/.exec(lines[marker])![0];
      const mine = diagnostics.filter((d) => d.file === full).map((d) => `${d.line} ${d.code}`);
      expect(mine, diagnostics.filter((d) => d.file === full).map((d) => d.message).join('\n')).to.deep.equal([`${marker + 2} ${code}`]);
    });
  }
});
