// `reminderly-db migrate baseline --version N [--dry-run]` and `migrate drift [--json]`: one line
// per difference on stdout, the summary on stderr, exit 3 (FINDINGS_EXIT_CODE) when anything differs.
import { Command, Option } from 'commander';
import path from 'path';
import { primaryTargetOf, printJson, positiveInt, targetOf, TargetFlags } from '../cli-options';
import { FINDINGS_EXIT_CODE } from '../errors';
import { migrateBaseline } from './baseline';
import { migrateDrift } from './drift';

type Flags = TargetFlags & { dir?: string; json?: boolean };

const log = (line: string) => process.stderr.write(line + '\n');
const rootOf = (flags: Flags) => (flags.dir ? path.resolve(flags.dir) : undefined);

export function registerBaselineAndDrift(migrate: Command, migrationOptions: (c: Command) => Command, lockTimeout: (c: Command) => Command): void {
  migrationOptions(migrate.command('drift').description('compare the live schema, campaign sets and grants with what the recorded history produces; exit 3 on any difference'))
    .option('--json', 'print the report as JSON')
    .action(async (flags: Flags) => {
      const report = await migrateDrift({ url: targetOf(flags).url, root: rootOf(flags), log: flags.json ? undefined : log });
      if (flags.json) printJson(report);
      else {
        for (const note of report.notes) log(`note: ${note}`);
        for (const f of report.findings) console.log(f.line);
        log(`${report.database}: ${report.findings.length ? `${report.findings.length} difference(s)` : 'no differences'} from the history up to version ${report.recordedVersion} `
          + `(${report.tablesCompared} tables, ${report.setsCompared} campaign sets; ${report.seconds.toFixed(1)} s)`);
      }
      if (report.findings.length) process.exitCode = FINDINGS_EXIT_CODE;
    });

  lockTimeout(migrationOptions(migrate.command('baseline').description('record versions up to N as applied on a database built another way, after proving its schema is what they produce')))
    .addOption(new Option('--version <n>', 'the newest version the database already has').argParser(positiveInt('--version')).makeOptionMandatory())
    .option('--dry-run', 'compare and say what would be recorded; write nothing')
    .option('--json', 'print the report as JSON')
    .action(async (flags: Flags & { version: number; dryRun?: boolean; lockTimeout?: number }) => {
      const url = flags.dryRun ? targetOf(flags).url : (await primaryTargetOf(flags, 'migrate baseline')).url;
      const report = await migrateBaseline({ url, root: rootOf(flags), version: flags.version, dryRun: flags.dryRun, lockTimeoutSeconds: flags.lockTimeout, log: flags.json ? undefined : log });
      if (flags.json) printJson(report);
      else {
        for (const note of report.notes) log(`note: ${note}`);
        for (const f of report.findings) console.log(f.line);
        if (report.findings.length) {
          log(`baseline refused: ${report.database} differs from the history up to version ${report.version} in ${report.findings.length} place(s) (listed above); nothing was recorded`);
        } else {
          for (const file of report.files) console.log(`${file.outcome.padEnd(16)} ${file.name}.sql`);
          const n = report.files.filter((f) => f.outcome === 'recorded' || f.outcome === 'would-record').length;
          log(`${report.database}: schema equals the history up to version ${report.version} (${report.tablesCompared} tables, ${report.setsCompared} campaign sets); `
            + (report.dryRun ? `--dry-run: ${n} file(s) would be recorded as applied, nothing was written` : `${n} file(s) recorded as applied`));
        }
      }
      if (report.findings.length) process.exitCode = FINDINGS_EXIT_CODE;
    });
}
