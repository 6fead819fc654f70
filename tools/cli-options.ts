// Options shared by every command that works on a database, so they read the same everywhere.
import { Command, Option } from 'commander';
import { UserError } from './errors';
import { resolveTarget, Target } from './config/environments';
import { assertPrimaryTarget } from './sql/primary';

export interface TargetFlags {
  env?: string;
  url?: string;
}

export function withTargetOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--env <name>', 'environment from database.json (dev, test, qa, prod)'))
    .addOption(new Option('--url <url>', 'database URL, overrides --env (mysql://user:pass@host:port/db)'));
}

export function targetOf(flags: TargetFlags): Target {
  return resolveTarget({ env: flags.env, url: flags.url });
}

/** The target of a command that changes the database: refused, as a UserError, when it is a replica. */
export async function primaryTargetOf(flags: TargetFlags, what: string): Promise<Target> {
  const target = targetOf(flags);
  await assertPrimaryTarget(target, what);
  return target;
}

export function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new UserError(`${name} must be a positive whole number, got "${value}"`);
    return Number(value);
  };
}

/** Prints a value as JSON (for --json) with stable formatting. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
