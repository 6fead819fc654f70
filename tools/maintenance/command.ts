// `reminderly-db maintenance rotate-logs|offload|restore`.
import { Command } from 'commander';
import path from 'path';
import { printJson, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { OperationError } from '../errors';
import { withConnection } from '../sql/connection';
import { rotateLogTables } from './log-tables';
import { offloadRotatedLogs, parseAge, restoreOffloaded } from './offload';

const log = (line: string) => process.stderr.write(line + '\n');

export function registerMaintenanceCommands(program: Command): void {
  const maintenance = program.command('maintenance').description('log rotation, verified offload to .sql.gz files, restore');

  withTargetOptions(maintenance.command('rotate-logs').description('swap each log table for an empty copy in one atomic RENAME TABLE'))
    .option('--json', 'print the result as JSON')
    .action(async (flags: TargetFlags & { json?: boolean }) => {
      const results = await withConnection(targetOf(flags).url, (conn) => rotateLogTables(conn));
      if (flags.json) return printJson(results);
      for (const r of results) console.log(r.rotatedTo ? `${r.table}: ${r.rows} rows rotated to ${r.rotatedTo}` : `${r.table}: empty, not rotated`);
    });

  withTargetOptions(maintenance.command('offload').description('dump rotated log tables older than N days, verify each dump by restoring it, then drop the table'))
    .requiredOption('--older-than <age>', 'e.g. 30d, 12h')
    .requiredOption('--out <dir>', 'folder for <table>.sql.gz and <table>.manifest.json')
    .option('--json', 'print the result as JSON')
    .action(async (flags: TargetFlags & { olderThan: string; out: string; json?: boolean }) => {
      const results = await offloadRotatedLogs({ url: targetOf(flags).url, outDir: path.resolve(flags.out), olderThanMs: parseAge(flags.olderThan), log });
      if (flags.json) printJson(results);
      else {
        if (!results.length) console.log('no rotated log table is old enough: nothing to offload');
        for (const r of results) console.log(r.outcome === 'offloaded' ? `${r.table}: ${r.rows} rows offloaded to ${r.file}, verified, dropped` : `${r.table}: FAILED at ${r.step}: ${r.error}`);
      }
      const failed = results.filter((r) => r.outcome === 'failed');
      if (failed.length) throw new OperationError(`${failed.length} table(s) not offloaded, nothing of them dropped; first: ${failed[0].error}`);
    });

  withTargetOptions(maintenance.command('restore').description('load an offloaded dump back (restoring twice changes nothing)'))
    .argument('<file>', 'the .sql.gz file (its manifest must be next to it)')
    .action(async (file: string, flags: TargetFlags) => {
      const result = await restoreOffloaded(targetOf(flags).url, path.resolve(file));
      console.log(result.outcome === 'restored' ? `${result.table}: ${result.rows} rows restored` : `${result.table}: already present with the same ${result.rows} rows, nothing done`);
    });
}
