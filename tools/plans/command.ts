// `reminderly-db plans`: capture every statement the routines run on realistic data, EXPLAIN each,
// print the plans per routine, and with --check fail on a bad or changed plan (CI).
import { Command } from 'commander';
import path from 'path';
import { printJson, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { OperationError } from '../errors';
import { projectRoot } from '../migrate/sources';
import { checkPlans } from './check';
import { jsonReport, renderFindings, renderTable } from './report';
import { acquireCaptureServer } from './server';

type Flags = TargetFlags & {
  dir?: string;
  json?: boolean;
  update?: boolean;
  check?: boolean;
  privateServer?: boolean;
  serverBinary?: string;
  keep?: boolean;
};

/** Exit code 1 with the findings already printed. */
export class PlanCheckFailed extends OperationError {
  constructor(message: string) {
    super(message, 1);
  }
}

export function registerPlanCommands(program: Command): void {
  withTargetOptions(program.command('plans')
    .description('capture the statements every routine runs on realistic data (plans/scenarios.json), EXPLAIN them and check them against plans/plans.json'))
    .option('--dir <path>', 'project folder: schema/, indexes/, procedures/ and plans/ (default: this package)')
    .option('--json', 'print the plans and findings as JSON')
    .option('--update', "rewrite this server flavour's section of plans/plans.json with the plans seen now")
    .option('--check', 'exit 1 when a rule fails, a plan differs from plans/plans.json or an index is a duplicate (print only findings)')
    .option('--private-server', 'capture on a private server started from local binaries even when the --url server could capture')
    .option('--server-binary <path>', 'server binary for a private server (default: mariadbd, else mysqld)')
    .option('--keep', 'keep the throwaway database (it is named in the output)')
    .action(async (flags: Flags) => {
      const log = (line: string) => process.stderr.write(line + '\n');
      const root = path.resolve(flags.dir ?? projectRoot());
      const capture = await acquireCaptureServer(targetOf(flags).url, {
        privateServer: flags.privateServer ? true : 'auto', binary: flags.serverBinary, log: program.opts().verbose ? log : undefined,
      });
      let result;
      try {
        result = await checkPlans({
          url: capture.url, server: capture.server, slowLogFile: capture.slowLogFile, root, update: flags.update,
          keepDatabase: flags.keep, log: program.opts().verbose ? log : undefined,
        });
      } finally {
        await capture.stop();
      }
      if (flags.json) printJson({ capturedOn: capture.description, ...(jsonReport(result) as object) });
      else {
        if (!flags.check) process.stdout.write(`plans captured on ${capture.description}\n\n${renderTable(result, process.stdout.columns || 160)}\n`);
        process.stdout.write(renderFindings(result) + '\n');
      }
      if ((flags.check || flags.update) && !result.ok) {
        throw new PlanCheckFailed(`plan check failed on ${result.flavour} ${result.version}`);
      }
    });
}
