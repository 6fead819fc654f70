// `reminderly-db users apply`: the platform's least-privilege database users for one environment.
import { Command, Option } from 'commander';
import path from 'path';
import { primaryTargetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { parseUrl } from '../sql/connection';
import { applyUsers } from './apply';
import { DEFAULT_HOST, defaultPrefix } from './accounts';

type Flags = TargetFlags & { prefix?: string; host?: string; dryRun?: boolean; dir?: string; migratorSuper?: boolean };

/** A setting of the environment's "users" object in database.json, e.g. {"users": {"host": "10.0.%"}}. */
function usersSetting(settings: Record<string, unknown>, key: 'prefix' | 'host'): string | undefined {
  const users = settings.users as Record<string, unknown> | undefined;
  return typeof users?.[key] === 'string' ? (users[key] as string) : undefined;
}

export function registerUsersCommands(program: Command): void {
  const users = program.command('users').description('the database users of an environment: migrator (DDL), application, reporting and auth (EXECUTE on their routines only)');
  withTargetOptions(users.command('apply').description('create or fix the four users and their grants; a second run changes nothing'))
    .addOption(new Option('--prefix <name>', 'user names are <prefix>_migrator, <prefix>_app, <prefix>_reporting, <prefix>_auth (default reminderly_<env>; with --url, the database name)'))
    .addOption(new Option('--host <pattern>', `host pattern of the accounts (default: the environment's users.host, else '${DEFAULT_HOST}')`))
    .option('--dry-run', 'print the statements that would run (passwords shown as their variable), change nothing')
    .option('--migrator-super', 'give the migrator SUPER when the server needs it to create stored functions (binary log on, log_bin_trust_function_creators OFF)')
    .option('--dir <path>', 'project folder whose procedures/ headers carry the @grant tags (default: this package)')
    .action(async (flags: Flags) => {
      // Users and grants are written on the primary and replicate; a replica refuses them.
      const target = await primaryTargetOf(flags, 'users apply');
      const database = parseUrl(target.url).database ?? '';
      const report = await applyUsers({
        url: target.url,
        prefix: flags.prefix ?? usersSetting(target.settings, 'prefix') ?? defaultPrefix(target.env, database),
        host: flags.host ?? usersSetting(target.settings, 'host'),
        root: flags.dir ? path.resolve(flags.dir) : undefined,
        dryRun: flags.dryRun,
        migratorSuper: flags.migratorSuper,
      });
      for (const warning of report.warnings) process.stderr.write(`reminderly-db: warning: ${warning}\n`);
      for (const statement of report.statements) console.log(`${statement.shown};`);
      const names = report.accounts.map((a) => `'${a.user}'@'${a.host}'`).join(', ');
      if (!report.statements.length) console.log(`${report.database}: ${names} are as they should be, nothing to change`);
      else console.log(`${report.database}: ${report.statements.length} statement(s) ${report.applied ? 'applied' : 'to apply (dry run, nothing changed)'} for ${names}`);
    });
}
