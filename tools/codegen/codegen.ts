// The codegen pipeline: catalogue -> headers and example calls -> model -> TypeScript files, and
// the comparison of those files with what is committed (for --check).
import fs from 'fs';
import path from 'path';
import { OperationError, UserError } from '../errors';
import { createThrowawayDatabase } from '../harness/database';
import { parseUrl, withConnection, withDatabase } from '../sql/connection';
import { projectRoot } from '../project';
import { readCatalogue } from './catalogue';
import { emitBindings, GENERATED_MARKER } from './emit';
import { readHeader } from '../routines/header';
import { buildRoutineModel, checkCollisions, RoutineModel } from './model';
import { observeProcedure } from './sandbox';

export interface CodegenOptions {
  /** The database whose routines are bound; with fromCheckout, only its server is used. */
  url: string;
  /** Project folder: headers are read from <dir>/procedures/<routine>.sql; migrations with fromCheckout. Default: this package. */
  dir?: string;
  /** Folder of the routine files holding the headers (default <dir>/procedures). */
  routinesDir?: string;
  /** Output folder (default <package>/bindings). */
  out?: string;
  /** How generated files import the runtime (default: the relative path to <package>/bindings/runtime). */
  runtimeImport?: string;
  /** Migrate a throwaway database from `dir` and bind its routines. */
  fromCheckout?: boolean;
  strict?: boolean;
  log?: (line: string) => void;
}

export interface Generated {
  outDir: string;
  files: Map<string, string>;
  routines: RoutineModel[];
  warnings: string[];
}

export function defaultOutDir(): string {
  return path.join(projectRoot(), 'bindings');
}

/** The runtime's module specifier as seen from outDir: './runtime' for the package's own bindings/. */
export function runtimeImportFor(outDir: string): string {
  const rel = path.relative(path.resolve(outDir), path.join(projectRoot(), 'bindings', 'runtime')).split(path.sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

async function bindDatabase(url: string, options: CodegenOptions, log: (line: string) => void): Promise<{ routines: RoutineModel[]; warnings: string[] }> {
  const database = parseUrl(url).database;
  if (!database) throw new UserError('the URL must name the database whose routines to bind (mysql://user@host:port/DATABASE), or pass --from-checkout');
  const dir = path.resolve(options.dir ?? projectRoot());
  const routinesDir = path.resolve(options.routinesDir ?? path.join(dir, 'procedures'));
  const catalogue = await withConnection(url, (conn) => readCatalogue(conn, database));
  const warnings: string[] = [];
  const routines: RoutineModel[] = [];
  for (const routine of catalogue) {
    const header = readHeader(routinesDir, dir, routine.name);
    if (header.internal) continue;
    const observation = routine.kind === 'procedure' ? await observeProcedure(url, database, routine, header) : null;
    if (observation) log(`called ${routine.name} ${observation.calls.length} time(s)`);
    routines.push(buildRoutineModel(routine, header, observation, { strict: options.strict }, warnings));
  }
  checkCollisions(routines);
  return { routines, warnings };
}

/** Runs the pipeline and returns the files it would write; writes nothing. */
export async function generateBindings(options: CodegenOptions): Promise<Generated> {
  const log = options.log ?? (() => undefined);
  const outDir = path.resolve(options.out ?? defaultOutDir());
  let bound: { routines: RoutineModel[]; warnings: string[] };
  if (options.fromCheckout) {
    const dir = path.resolve(options.dir ?? projectRoot());
    const scratch = await createThrowawayDatabase('codegen', withDatabase(options.url, null));
    try {
      log(`migrating ${scratch.name} from ${dir}`);
      const { migrateUp, assertMigrated } = await import('../migrate/migrator');
      assertMigrated(await migrateUp({ url: scratch.url, root: dir, quiet: true }));
      bound = await bindDatabase(scratch.url, options, log);
    } finally {
      await scratch.drop();
    }
  } else {
    bound = await bindDatabase(options.url, options, log);
  }
  const files = emitBindings(bound.routines, { runtimeImport: options.runtimeImport ?? runtimeImportFor(outDir) });
  return { outDir, files, routines: bound.routines, warnings: bound.warnings };
}

function isGenerated(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(GENERATED_MARKER.length);
    fs.readSync(fd, head, 0, head.length, 0);
    return head.toString('utf8') === GENERATED_MARKER;
  } finally {
    fs.closeSync(fd);
  }
}

/** Generated files in outDir that the current routines no longer produce (hand-written files are never touched). */
function leftovers(outDir: string, files: Map<string, string>): string[] {
  if (!fs.existsSync(outDir)) return [];
  return fs.readdirSync(outDir).filter((f) => f.endsWith('.ts') && !files.has(f) && isGenerated(path.join(outDir, f))).sort();
}

export interface Difference {
  file: string;
  problem: 'missing' | 'differs' | 'no longer generated';
}

/** What differs between the generated files and outDir. */
export function compareWithDisk(generated: Pick<Generated, 'outDir' | 'files'>): Difference[] {
  const diffs: Difference[] = [];
  for (const [name, text] of generated.files) {
    const file = path.join(generated.outDir, name);
    if (!fs.existsSync(file)) diffs.push({ file: name, problem: 'missing' });
    else if (fs.readFileSync(file, 'utf8') !== text) diffs.push({ file: name, problem: 'differs' });
  }
  for (const name of leftovers(generated.outDir, generated.files)) diffs.push({ file: name, problem: 'no longer generated' });
  return diffs;
}

export interface WriteReport {
  written: string[];
  unchanged: string[];
  removed: string[];
}

/** Writes what changed and removes generated files no routine produces any more. */
export function writeBindings(generated: Pick<Generated, 'outDir' | 'files'>): WriteReport {
  fs.mkdirSync(generated.outDir, { recursive: true });
  const report: WriteReport = { written: [], unchanged: [], removed: [] };
  for (const [name, text] of generated.files) {
    const file = path.join(generated.outDir, name);
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) {
      report.unchanged.push(name);
      continue;
    }
    fs.writeFileSync(file, text);
    report.written.push(name);
  }
  for (const name of leftovers(generated.outDir, generated.files)) {
    fs.rmSync(path.join(generated.outDir, name));
    report.removed.push(name);
  }
  return report;
}

/** The one-line reason --check gives, naming the first stale file. */
export function staleReason(outDir: string, diffs: Difference[]): string {
  const rel = (f: string) => path.relative(process.cwd(), path.join(outDir, f)) || f;
  const first = diffs[0];
  const more = diffs.length > 1 ? ` (and ${diffs.length - 1} more file${diffs.length > 2 ? 's' : ''})` : '';
  return `${rel(first.file)} is stale: ${first.problem === 'missing' ? 'not generated yet' : first.problem === 'differs' ? 'it differs from what the current routines generate' : 'no routine generates it any more'}${more}; run \`reminderly-db codegen\` and commit the result`;
}

export class StaleBindingsError extends OperationError {
  constructor(message: string, readonly differences: Difference[]) {
    super(message, 1);
  }
}
