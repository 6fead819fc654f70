// Packaging: `import { claimBatch } from 'reminderly-db/bindings'` works for an app team. The spec
// installs the package the way npm would (package.json plus the build of bindings/tsconfig.build.json,
// under node_modules/reminderly-db of a scratch consumer project), then type-checks a consumer with
// both module resolutions and loads the bindings at run time, all through the package name.
import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { PROJECT_ROOT } from '../helpers/cli';

const TSC = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args: string[], cwd: string): { code: number; output: string } {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

/** The same, without blocking: the consumer's type checks run side by side. */
function runAsync(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

const RESOLUTIONS = [['node16', 'node16'], ['commonjs', 'node10']] as const;

const CONSUMER = `import type { Pool } from 'mysql2/promise';
import { campaignSetCreate, claimBatch, ClaimBatchResult, RoutineError } from 'reminderly-db/bindings';

export async function claim(pool: Pool): Promise<ClaimBatchResult | null> {
  const readOnly: false = claimBatch.readOnly;
  void readOnly;
  const created = await campaignSetCreate(pool, { campaignId: 42n });
  const isNew: boolean | null = created.out.created;
  void isNew;
  try {
    return await claimBatch(pool, { campaignId: 42n, runType: 'immediate', worker: 'w1', maxRows: 100, leaseSeconds: 300 });
  } catch (err) {
    if (err instanceof RoutineError) return null;
    throw err;
  }
}
`;

const MISUSE = `import type { Pool } from 'mysql2/promise';
import { claimBatch } from 'reminderly-db/bindings';

export async function misuse(pool: Pool): Promise<void> {
  await claimBatch(pool, { campaignId: 'forty-two', runType: 'immediate', worker: 'w1', maxRows: 100, leaseSeconds: 300 });
}
`;

describe('codegen packaging: reminderly-db/bindings', function () {
  this.timeout(120_000);
  let dir: string;
  let typeChecks: Promise<{ code: number; output: string }[]>;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-consumer-'));
    const pkg = path.join(dir, 'node_modules', 'reminderly-db');
    fs.mkdirSync(pkg, { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, 'package.json'), path.join(pkg, 'package.json'));
    const build = run([TSC, '-p', path.join(PROJECT_ROOT, 'bindings', 'tsconfig.build.json'), '--outDir', path.join(pkg, 'dist', 'bindings')], PROJECT_ROOT);
    expect(build.code, build.output).to.equal(0);
    // The package's own dependencies, as npm would have installed them next to it.
    for (const dep of ['mysql2', '@types']) fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep), 'dir');
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    fs.writeFileSync(path.join(dir, 'consumer.ts'), CONSUMER);
    fs.writeFileSync(path.join(dir, 'misuse.ts'), MISUSE);
    typeChecks = Promise.all(RESOLUTIONS.map(([module, resolution]) => runAsync([TSC, '--noEmit', '--strict', '--target', 'ES2022',
      '--module', module, '--moduleResolution', resolution, '--types', 'node', '--pretty', 'false', 'consumer.ts', 'misuse.ts'], dir)));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds .js and .d.ts for every binding with the package\'s build config', () => {
    const built = fs.readdirSync(path.join(dir, 'node_modules', 'reminderly-db', 'dist', 'bindings'));
    expect(built).to.include.members(['index.js', 'index.d.ts', 'runtime.js', 'runtime.d.ts', 'claim-batch.js', 'claim-batch.d.ts']);
  });

  RESOLUTIONS.forEach(([module, resolution], i) => {
    it(`type-checks a consumer through the package name (module ${module}, moduleResolution ${resolution}) and rejects a wrong argument`, async () => {
      const result = (await typeChecks)[i];
      const errors = result.output.split('\n').filter((l) => l.includes('error TS'));
      expect(errors).to.have.length(1, result.output);
      expect(errors[0]).to.match(/^misuse\.ts\(5,\d+\): error TS2322: Type 'string' is not assignable to type '(number \| bigint|bigint \| number)/);
    });
  });

  it('loads the bindings at run time through the package\'s exports', () => {
    const script = `const b = require('reminderly-db/bindings');
      console.log(JSON.stringify({ claimBatch: typeof b.claimBatch, readOnly: b.claimBatch.readOnly, routine: b.claimBatch.routine,
        routineError: new b.RoutineError('r', '45000', 'm', 1644).name, resolved: require.resolve('reminderly-db/bindings') }));`;
    const result = run(['-e', script], dir);
    expect(result.code, result.output).to.equal(0);
    const loaded = JSON.parse(result.output);
    expect(loaded).to.include({ claimBatch: 'function', readOnly: false, routine: 'claim_batch', routineError: 'RoutineError' });
    expect(fs.realpathSync(loaded.resolved)).to.equal(fs.realpathSync(path.join(dir, 'node_modules', 'reminderly-db', 'dist', 'bindings', 'index.js')));
  });
});
