// `reminderly-db codegen`: typed TypeScript bindings for every stored routine, and --check for CI.
import { Command } from 'commander';
import path from 'path';
import { targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { compareWithDisk, generateBindings, staleReason, StaleBindingsError, writeBindings } from './codegen';

type Flags = TargetFlags & {
  out?: string;
  dir?: string;
  routines?: string;
  runtimeImport?: string;
  check?: boolean;
  fromCheckout?: boolean;
  strict?: boolean;
};

export function registerCodegenCommands(program: Command): void {
  withTargetOptions(program.command('codegen')
    .description('generate typed TypeScript bindings (bindings/) for the stored procedures and functions of a database'))
    .option('--out <dir>', 'output folder (default: bindings/ of this package)')
    .option('--dir <path>', 'project folder: routine headers in <dir>/procedures, migrations for --from-checkout (default: this package)')
    .option('--routines <dir>', 'folder of the <routine>.sql files whose headers are read (default: <dir>/procedures)')
    .option('--runtime-import <module>', 'how generated files import the runtime (default: relative path to bindings/runtime)')
    .option('--from-checkout', 'migrate a throwaway database on the --url/--env server from the checkout and bind its routines')
    .option('--check', 'write nothing; exit 1 naming the first stale file when the output folder differs from what would be generated')
    .option('--strict', 'fail when a procedure\'s result sets cannot be typed (no @example in its header)')
    .action(async (flags: Flags) => {
      const log = (line: string) => process.stderr.write(line + '\n');
      const generated = await generateBindings({
        url: targetOf(flags).url,
        dir: flags.dir,
        routinesDir: flags.routines,
        out: flags.out,
        runtimeImport: flags.runtimeImport,
        fromCheckout: flags.fromCheckout,
        strict: flags.strict,
        log: program.opts().verbose ? log : undefined,
      });
      for (const w of generated.warnings) log(`warning: ${w}`);
      const where = path.relative(process.cwd(), generated.outDir) || '.';
      if (flags.check) {
        const diffs = compareWithDisk(generated);
        if (diffs.length) {
          if (program.opts().verbose) for (const d of diffs) log(`${d.problem.padEnd(20)} ${path.join(where, d.file)}`);
          throw new StaleBindingsError(staleReason(generated.outDir, diffs), diffs);
        }
        console.log(`${where}: up to date (${generated.routines.length} routines, ${generated.files.size} files)`);
        return;
      }
      const report = writeBindings(generated);
      for (const f of report.written) console.log(`wrote   ${path.join(where, f)}`);
      for (const f of report.removed) console.log(`removed ${path.join(where, f)}`);
      console.log(`${where}: ${generated.routines.length} routines; ${report.written.length} written, ${report.unchanged.length} unchanged, ${report.removed.length} removed`);
    });
}
