// `reminderly-db migrate up|down|status|validate|plan|repair`.
import { Command, Option } from 'commander';
import path from 'path';
import { primaryTargetOf, printJson, positiveInt, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { ExitCode, OperationError, UserError } from '../errors';
import { ServerFlavour } from '../sql/flavour';
import { registerBaselineAndDrift } from './drift-command';
import { migrateDown, migrateUp, migrationStatus, planUp, rebuildLedger, repairMigration, RunReport, StatusReport } from './migrator';
import { stillRunningMessage } from './still-running';
import { migrationNameFrom } from './sources';
import { validationProblems } from './status';

type Flags = TargetFlags & { dir?: string };

const log = (line: string) => process.stderr.write(line + '\n');

/** Options every migrate subcommand takes: the target, and where the migration files are. */
function migrationOptions(cmd: Command): Command {
  return withTargetOptions(cmd).option('--dir <path>', 'project folder holding schema/, indexes/, seeds/, procedures/ (default: this package)');
}

function lockTimeout(cmd: Command): Command {
  return cmd.addOption(new Option('--lock-timeout <seconds>', 'how long to wait for another run to finish').argParser(positiveInt('--lock-timeout')));
}

function printReport(report: RunReport, verb: string): void {
  const done = report.results.filter((r) => r.outcome === 'applied' || r.outcome === 'reverted');
  if (report.results.length === 0) console.log(`${report.database}: nothing to ${verb}, the database is up to date`);
  for (const r of report.results) {
    const detail = r.outcome === 'failed' ? `\n  ${r.error}` : r.outcome === 'not-executed' ? '' : ` (${r.statements} statements, ${r.ms} ms)`;
    console.log(`${r.outcome.padEnd(12)} ${r.name}.sql${detail}`);
  }
  for (const hook of report.hooks) {
    for (const line of hook.lines) console.log(line);
    if (hook.outcome === 'failed') console.log(`${'failed'.padEnd(12)} ${hook.name} (after the files)\n  ${hook.error}`);
  }
  if (report.results.length) console.log(`${report.database}: ${done.length} of ${report.results.length} files ${verb === 'apply' ? 'applied' : 'reverted'}`);
  if (report.ok) return;
  const failedFile = report.results.find((r) => r.outcome === 'failed');
  if (failedFile) throw new OperationError(`${verb} stopped at a failed statement; nothing after it ran (see above)`);
  const failedHooks = report.hooks.filter((h) => h.outcome === 'failed');
  throw new OperationError(`the files were applied, but ${failedHooks.map((h) => h.name).join(' and ')} failed: ${failedHooks[0].error}`);
}

/** Everything `validate` fails on: files, the two history tables, expected grants. */
function allProblems(status: StatusReport): string[] {
  return [
    ...validationProblems(status.files).map((p) => `${p.name}.sql: ${p.problem}`),
    ...status.history.map((line) => `history: ${line}`),
    ...status.grants.map((line) => `grants: ${line}`),
  ];
}

function sqlForDisplay(text: string, flavour: ServerFlavour): string {
  // Compound statements (routines, triggers) need a client delimiter to be pasted into the client.
  const compound = /^\s*CREATE\b[\s\S]*?\b(PROCEDURE|FUNCTION|TRIGGER|EVENT)\b/i.test(text) && /\bBEGIN\b/i.test(text);
  let formatted: string;
  try {
    // Loaded here, not at the top: only `migrate plan` formats, and sql-formatter is a fifth of the CLI's start.
    formatted = compound ? text : (require('sql-formatter') as typeof import('sql-formatter')).format(text, { language: flavour, keywordCase: 'upper' });
  } catch {
    formatted = text;
  }
  return compound ? `DELIMITER $$\n${formatted.trim()}$$\nDELIMITER ;` : `${formatted.trim()};`;
}

function rootOf(flags: Flags): string | undefined {
  return flags.dir ? path.resolve(flags.dir) : undefined;
}

export function registerMigrateCommands(program: Command): void {
  const migrate = program.command('migrate').description('apply, revert and inspect the ordered migration history (schema/, indexes/, seeds/, procedures/)');

  lockTimeout(migrationOptions(migrate.command('up').description('apply every pending migration, then re-apply changed routines')))
    .addOption(new Option('--to <version>', 'stop after this version').argParser(positiveInt('--to')))
    .option('--resume', 'continue a failed or interrupted file at the statement that did not complete')
    .option('--json', 'print the result as JSON')
    .action(async (flags: Flags & { to?: number; resume?: boolean; lockTimeout?: number; json?: boolean }) => {
      const target = await primaryTargetOf(flags, 'migrate up');
      const report = await migrateUp({ root: rootOf(flags), url: target.url, to: flags.to, resume: flags.resume, lockTimeoutSeconds: flags.lockTimeout, log });
      if (flags.json) {
        printJson(report);
        if (!report.ok) process.exitCode = ExitCode.Failure;
      } else printReport(report, 'apply');
    });

  lockTimeout(migrationOptions(migrate.command('down').description('revert the latest applied versioned migrations with their .down.sql files')))
    .requiredOption('--count <n>', 'how many migrations to revert', positiveInt('--count'))
    .action(async (flags: Flags & { count: number; lockTimeout?: number }) => {
      const target = await primaryTargetOf(flags, 'migrate down');
      printReport(await migrateDown({ root: rootOf(flags), url: target.url, count: flags.count, lockTimeoutSeconds: flags.lockTimeout, log }), 'revert');
    });

  migrationOptions(migrate.command('status').description('show every file as applied, pending, changed, failed, interrupted or missing'))
    .option('--json', 'print the status as JSON')
    .action(async (flags: Flags & { json?: boolean }) => {
      const status = await migrationStatus({ root: rootOf(flags), url: targetOf(flags).url });
      if (flags.json) return printJson(status);
      if (!status.exists) console.log(`${status.database} does not exist yet: everything is pending`);
      for (const f of status.files) {
        const extra = f.resumeAt !== null ? ` at statement ${f.resumeAt + 1}` : '';
        console.log(`${f.state.padEnd(12)} ${f.name}.sql${extra}`);
      }
      const counts = new Map<string, number>();
      for (const f of status.files) counts.set(f.state, (counts.get(f.state) ?? 0) + 1);
      console.log([...counts].map(([state, n]) => `${n} ${state}`).join(', '));
      if (status.stillRunning) console.log(stillRunningMessage(status.stillRunning));
      for (const line of status.history) console.log(`history: ${line}`);
      for (const line of status.grants) console.log(`grants: ${line}`);
    });

  migrationOptions(migrate.command('validate').description('exit 3 (findings) if applied files were edited, deleted, failed or are out of order, or the history or grants disagree'))
    .action(async (flags: Flags) => {
      const status = await migrationStatus({ root: rootOf(flags), url: targetOf(flags).url });
      const problems = allProblems(status);
      for (const p of problems) console.log(p);
      if (problems.length) throw new OperationError(`${problems.length} problem(s): the checkout, the history or the grants disagree with ${status.database}`, ExitCode.Findings);
      console.log(`${status.database}: every applied file matches the checkout`);
    });

  migrationOptions(migrate.command('plan').description('print the SQL that `up` would run, formatted; changes nothing'))
    .addOption(new Option('--to <version>', 'stop after this version').argParser(positiveInt('--to')))
    .option('--resume', 'plan a resumed run')
    .action(async (flags: Flags & { to?: number; resume?: boolean }) => {
      const target = targetOf(flags);
      const planned = await planUp({ root: rootOf(flags), url: target.url, to: flags.to, resume: flags.resume });
      if (!planned.length) console.log('-- nothing to apply: the database is up to date');
      for (const file of planned) {
        console.log(`-- ${file.name}.sql${file.from ? ` (from statement ${file.from + 1})` : ''}`);
        for (const s of file.statements) console.log(sqlForDisplay(s.text, 'mysql') + '\n');
      }
    });

  lockTimeout(migrationOptions(migrate.command('repair').description('mark a failed/interrupted file as applied (after finishing it by hand), accept an edited file\'s checksum, or rebuild a lost or damaged ledger')))
    .argument('[file]', 'the migration, e.g. schema/V0003__contacts.sql')
    .option('--rebuild-ledger', 'rebuild migration_ledger from db-migrate\'s migrations table and this checkout (prints the changes; --yes writes them)')
    .option('--yes', 'with --rebuild-ledger: write the changes')
    .action(async (file: string | undefined, flags: Flags & { lockTimeout?: number; rebuildLedger?: boolean; yes?: boolean }) => {
      const url = (await primaryTargetOf(flags, 'migrate repair')).url;
      if (flags.rebuildLedger) {
        if (file) throw new UserError('migrate repair: give either a file or --rebuild-ledger, not both');
        const result = await rebuildLedger({ root: rootOf(flags), url, lockTimeoutSeconds: flags.lockTimeout, confirmed: Boolean(flags.yes) });
        for (const change of result.changes) console.log(change);
        if (!result.changes.length) return console.log(`${result.database}: the ledger already agrees with the migrations table; nothing to rebuild`);
        if (!result.written) throw new UserError(`nothing written: run again with --rebuild-ledger --yes to make these ${result.changes.length} change(s) to ${result.database}`);
        return console.log(`${result.database}: ledger rebuilt (${result.changes.length} change(s))`);
      }
      if (!file) throw new UserError('migrate repair: name the file to repair, or pass --rebuild-ledger');
      console.log(await repairMigration({ root: rootOf(flags), url, name: migrationNameFrom(file, rootOf(flags)), lockTimeoutSeconds: flags.lockTimeout }));
    });

  registerBaselineAndDrift(migrate, migrationOptions, lockTimeout);
}
