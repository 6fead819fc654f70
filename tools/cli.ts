// The reminderly-db command: a thin layer that registers one module per capability, and the one
// error boundary: every error becomes exactly one line on stderr and an exit code from
// ExitCode (tools/errors.ts, README "Exit codes"); a stack trace only with --verbose.
import { Command, CommanderError } from 'commander';
import { describeError, ExitCode, isServerOrSystemError, OperationError, UserError } from './errors';
import { maskPassword } from './sql/connection';
import { registerBenchCommands } from './bench/command';
import { registerCampaignCommands } from './campaigns/command';
import { registerCodegenCommands } from './codegen/command';
import { registerDemoCommands } from './demo/command';
import { registerHealthCommands } from './health/command';
import { registerMaintenanceCommands } from './maintenance/command';
import { registerRetireCommand } from './maintenance/retire-command';
import { registerMessagesCommands } from './pipeline/command';
import { registerMigrateCommands } from './migrate/command';
import { registerPlanCommands } from './plans/command';
import { registerSqlCommands } from './sql/command';
import { registerUsersCommands } from './users/command';

export function buildProgram(): Command {
  const program = new Command('reminderly-db')
    .description('Migrations, campaign table sets, pipeline routines, bindings and maintenance for Reminderly\'s MySQL/MariaDB database')
    .option('--verbose', 'say more of what is done; print the stack trace of an internal error')
    // Commander's own errors (unknown option, missing argument) as one line, like every other error.
    .configureOutput({
      outputError: (text) => process.stderr.write(`reminderly-db: ${oneLine(text.replace(/^error: /, ''))} (add --help for usage)\n`),
      // Commander shows a group's whole help on stderr when its subcommand is missing: one line instead.
      writeErr: (text) => process.stderr.write(/^Usage: /.test(text)
        ? `reminderly-db: missing command: ${text.split('\n')[0].replace(/^Usage: /, '')} (add --help for usage)\n` : text),
    })
    .exitOverride();
  registerSqlCommands(program);
  registerMigrateCommands(program);
  registerRetireCommand(registerCampaignCommands(program));
  registerMessagesCommands(program);
  registerMaintenanceCommands(program);
  registerDemoCommands(program);
  registerCodegenCommands(program);
  registerPlanCommands(program);
  registerBenchCommands(program);
  registerUsersCommands(program);
  registerHealthCommands(program);
  return program;
}

/** Newlines and runs of spaces folded, any URL password masked: what may reach stderr. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/\S+/g, (url) => maskPassword(url));
}

/**
 * The exit code and the one line for an error. `doing` names the command that was running, so a
 * server or OS error nobody wrapped still says what was being done.
 */
export function exitCodeFor(err: unknown, doing = 'reminderly-db'): { code: number; message: string } {
  if (err instanceof UserError || err instanceof OperationError) return { code: err.exitCode, message: oneLine(err.message) };
  if (err instanceof CommanderError) {
    // Commander printed its one line already (configureOutput above); help and --version are success.
    return { code: err.exitCode === 0 ? ExitCode.Success : ExitCode.Usage, message: '' };
  }
  if (isServerOrSystemError(err)) return { code: ExitCode.Failure, message: oneLine(`${doing} failed: ${describeError(err)}`) };
  const message = err instanceof Error ? err.message : String(err);
  return { code: ExitCode.Failure, message: oneLine(`${doing}: internal error: ${message} (run with --verbose for the trace)`) };
}

/** "campaign create", from the command whose action runs. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ') || 'reminderly-db';
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.commands.forEach(function apply(cmd: Command) {
    cmd.exitOverride();
    cmd.commands.forEach(apply);
  });
  let doing = 'reminderly-db';
  program.hook('preAction', (_root, action) => {
    doing = commandPath(action);
  });
  const report = (err: unknown) => {
    const { code, message } = exitCodeFor(err, doing);
    if (message) process.stderr.write(`reminderly-db: ${message}\n`);
    if (program.opts().verbose && !(err instanceof CommanderError) && err instanceof Error && err.stack) {
      process.stderr.write(maskPassword(err.stack) + '\n');
    }
    process.exitCode = code;
  };
  // An error event nobody listens to (a socket reset during a huge statement) would print a
  // trace and exit 1: it goes through the same boundary instead, once.
  let reported = false;
  const lastResort = (err: unknown) => {
    if (!reported) report(err);
    reported = true;
    process.exit(process.exitCode ?? ExitCode.Failure);
  };
  // mysql2 console.error()s "Warning: got packets out of order" when the server drops a statement
  // larger than max_allowed_packet; the statement's own error follows, so that line is noise.
  const consoleError = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Warning: got packets out of order')) return;
    consoleError(...args);
  };
  process.on('uncaughtException', lastResort);
  process.on('unhandledRejection', lastResort);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    reported = true;
    report(err);
  }
}
