// `reminderly-db plans`: capture every statement the routines run on realistic data, EXPLAIN each,
// print the plans per routine, and with --check fail on a bad or changed plan (CI).
import { Command } from 'commander';
import path from 'path';
import { printJson, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { OperationError } from '../errors';
import { projectRoot } from '../project';
import { checkPlans, CheckResult } from './check';
import { jsonReport, renderFindings, renderTable, scenarioLabel } from './report';
import { scenarioFiles } from './scenario';
import { acquireCaptureServer } from './server';

type Flags = TargetFlags & {
  dir?: string;
  json?: boolean;
  update?: boolean;
  check?: boolean;
  privateServer?: boolean;
  serverBinary?: string;
  keep?: boolean;
  scenario?: string;
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
    .option('--scenario <name>', 'run one scenario: "default" (plans/scenarios.json) or NAME of plans/scenarios.NAME.json (default: all, the recording one first)')
    .action(async (flags: Flags) => {
      const log = (line: string) => process.stderr.write(line + '\n');
      const root = path.resolve(flags.dir ?? projectRoot());
      const files = scenarioFiles(root, flags.scenario);
      const capture = await acquireCaptureServer(targetOf(flags).url, {
        privateServer: flags.privateServer ? true : 'auto', binary: flags.serverBinary, log: program.opts().verbose ? log : undefined,
      });
      // One after the other on the same server: the recording scenario first, so that a
      // non-recording one is held to what --update has just written.
      const results: CheckResult[] = [];
      try {
        for (const scenarioFile of files) {
          results.push(await checkPlans({
            url: capture.url, server: capture.server, slowLogFile: capture.slowLogFile, root, scenarioFile, update: flags.update,
            keepDatabase: flags.keep, log: program.opts().verbose ? log : undefined,
          }));
        }
      } finally {
        await capture.stop();
      }
      const ok = results.every((r) => r.ok);
      if (flags.json) {
        // The first scenario's report at the top (as with one scenario), the others under "scenarios".
        const [first, ...others] = results.map((r) => jsonReport(r) as object);
        printJson({ capturedOn: capture.description, ...first, ok, ...(others.length ? { scenarios: others } : {}) });
      } else {
        if (!flags.check) process.stdout.write(`plans captured on ${capture.description}\n`);
        for (const result of results) {
          const label = scenarioLabel(result);
          if (!flags.check) process.stdout.write(`\n${label ? `scenario ${label}\n\n` : ''}${renderTable(result, process.stdout.columns || 160)}\n`);
          process.stdout.write(renderFindings(result) + '\n');
        }
      }
      if ((flags.check || flags.update) && !ok) {
        const failed = results.filter((r) => !r.ok).map((r) => scenarioLabel(r) || 'scenarios.json');
        throw new PlanCheckFailed(`plan check failed on ${results[0].flavour} ${results[0].version} (${failed.join(', ')})`);
      }
    });
}
