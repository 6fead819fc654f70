// The reminderly-db command: a thin layer that registers one module per capability and maps
// errors to exit codes (0 ok, 1 user error with a one-line reason, 2+ failure).
import { Command, CommanderError } from 'commander';
import { OperationError, UserError } from './errors';
import { registerBenchCommands } from './bench/command';
import { registerCampaignCommands } from './campaigns/command';
import { registerCodegenCommands } from './codegen/command';
import { registerDemoCommands } from './demo/command';
import { registerHealthCommands } from './health/command';
import { registerMaintenanceCommands } from './maintenance/command';
import { registerMessagesCommands } from './pipeline/command';
import { registerMigrateCommands } from './migrate/command';
import { registerPlanCommands } from './plans/command';
import { registerSqlCommands } from './sql/command';
import { registerUsersCommands } from './users/command';

export function buildProgram(): Command {
  const program = new Command('reminderly-db')
    .description('Migrations, campaign table sets, pipeline routines, bindings and maintenance for Reminderly\'s MySQL/MariaDB database')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerSqlCommands(program);
  registerMigrateCommands(program);
  registerCampaignCommands(program);
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

export function exitCodeFor(err: unknown): { code: number; message: string } {
  if (err instanceof UserError || err instanceof OperationError) return { code: err.exitCode, message: err.message };
  if (err instanceof CommanderError) return { code: err.exitCode === 0 ? 0 : 1, message: '' };
  const e = err as { code?: string; message?: string; stack?: string };
  return { code: 2, message: e?.stack ?? String(err) };
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.commands.forEach(function apply(cmd: Command) {
    cmd.exitOverride();
    cmd.commands.forEach(apply);
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const { code, message } = exitCodeFor(err);
    if (message) process.stderr.write(`reminderly-db: ${message}\n`);
    process.exitCode = code;
  }
}
