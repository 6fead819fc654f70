// `reminderly-db sql ...` (placeholder until the runner lands).
import { Command } from 'commander';

export function registerSqlCommands(program: Command): void {
  program.command('sql').description('run .sql files exactly as the mysql command-line client does');
}
