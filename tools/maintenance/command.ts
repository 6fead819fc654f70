// `reminderly-db maintenance history|rotate-logs|offload|restore|run`.
import { Command, Option } from 'commander';
import fs from 'fs';
import path from 'path';
import { positiveInt, primaryTargetOf, printJson, TargetFlags, withTargetOptions } from '../cli-options';
import { OperationError, UserError } from '../errors';
import { withConnection } from '../sql/connection';
import { parseCampaignId } from '../campaigns/sets';
import { DEFAULT_CHUNK, describeHistoryResult, parseChunk, parseDays, runHistoryMoves } from './history';
import { rotateLogTables } from './log-tables';
import { parseAge } from './offload';
import { restoreDay, restoreOffloaded, RestoreResult } from './restore';
import { ensureWritableFolder } from './verified-dump';
import { DELETE_CHUNK, describeOffloadResult } from './history-offload';
import { describeRun, judgeHistory, judgeOffload, judgeRotation, offloadAll, runMaintenance } from './run';
import { recordMaintenanceStep } from './runs';

const log = (line: string) => process.stderr.write(line + '\n');

export function registerMaintenanceCommands(program: Command): void {
  const maintenance = program.command('maintenance').description('history moves, log rotation, verified offload to .sql.gz files, restore, and all of them in one run');

  withTargetOptions(maintenance.command('history').description('move finished messages older than N days, with their status rows, status updates and interactions, to the history tables (one transaction per chunk)'))
    .addOption(new Option('--campaign <id>', 'one campaign set'))
    .option('--all', 'every active campaign set')
    .requiredOption('--older-than <age>', 'whole days since the messages\' last status change, e.g. 30d')
    .addOption(new Option('--chunk <messages>', `messages per transaction, 1 to 10000 (default ${DEFAULT_CHUNK})`).argParser(parseChunk))
    .option('--dry-run', 'count what would move; change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (flags: TargetFlags & { campaign?: string; all?: boolean; olderThan: string; chunk?: number; dryRun?: boolean; json?: boolean }) => {
      if (!!flags.campaign === !!flags.all) throw new UserError('maintenance history needs exactly one of --campaign <id> or --all');
      const campaignIds = flags.campaign ? [parseCampaignId(flags.campaign)] : undefined;
      const olderThanDays = parseDays(flags.olderThan);
      const url = (await primaryTargetOf(flags, 'maintenance history')).url;
      const move = () => withConnection(url, (conn) => runHistoryMoves(conn, {
        campaignIds, olderThanDays, chunk: flags.chunk, dryRun: flags.dryRun, progress: flags.json ? 'none' : 'auto',
      }));
      // A dry run changes nothing, so it is no run of the step for health to judge.
      const results = flags.dryRun ? await move() : await recordMaintenanceStep(url, 'history', move, judgeHistory, log);
      if (flags.json) printJson(results);
      else {
        if (!results.length) console.log('no active campaign set');
        for (const r of results) console.log(describeHistoryResult(r));
        if (results.length > 1) {
          const moved = results.reduce((n, r) => n + (flags.dryRun ? r.preview?.eligible ?? 0 : r.moved.messages), 0);
          console.log(`total: ${moved} messages ${flags.dryRun ? 'would move' : 'moved'} from ${results.length} set(s)`);
        }
      }
      const failed = results.filter((r) => r.outcome === 'failed');
      if (failed.length) throw new OperationError(`${failed.length} set(s) failed; first: campaign ${failed[0].campaignId}: ${failed[0].error}`);
    });

  withTargetOptions(maintenance.command('rotate-logs').description('swap each log table for an empty copy in one atomic RENAME TABLE'))
    .option('--json', 'print the result as JSON')
    .action(async (flags: TargetFlags & { json?: boolean }) => {
      const url = (await primaryTargetOf(flags, 'maintenance rotate-logs')).url;
      const results = await recordMaintenanceStep(url, 'rotate-logs', () => withConnection(url, (conn) => rotateLogTables(conn)), judgeRotation, log);
      if (flags.json) return printJson(results);
      for (const r of results) console.log(r.rotatedTo ? `${r.table}: ${r.rows} rows rotated to ${r.rotatedTo}` : `${r.table}: empty, not rotated`);
    });

  withTargetOptions(maintenance.command('offload').description('dump rotated log tables and history rows older than N days, verify each dump by restoring it, then drop the table / delete the rows'))
    .requiredOption('--older-than <age>', 'e.g. 30d, 12h')
    .requiredOption('--out <dir>', 'folder for the .sql.gz dumps and their .manifest.json')
    .addOption(new Option('--delete-chunk <rows>', `history rows deleted per transaction once verified (default ${DELETE_CHUNK})`).argParser(positiveInt('--delete-chunk')))
    .option('--json', 'print the result as JSON')
    .action(async (flags: TargetFlags & { olderThan: string; out: string; deleteChunk?: number; json?: boolean }) => {
      ensureWritableFolder(flags.out);
      const url = (await primaryTargetOf(flags, 'maintenance offload')).url;
      const options = { url, outDir: path.resolve(flags.out), olderThanMs: parseAge(flags.olderThan), deleteChunk: flags.deleteChunk, log };
      const results = await recordMaintenanceStep(url, 'offload', () => offloadAll(options), judgeOffload, log);
      if (flags.json) printJson(results);
      else {
        if (!results.length) console.log('no rotated log table and no history row is old enough: nothing to offload');
        for (const r of results) console.log(describeOffloadResult(r));
      }
      const failed = results.filter((r) => r.outcome === 'failed');
      if (failed.length) throw new OperationError(`${failed.length} table(s) not offloaded, nothing of them dropped or deleted; first: ${failed[0].error}`);
    });

  withTargetOptions(maintenance.command('restore').description('load an offloaded dump back, verified in a scratch database first (restoring twice changes nothing)'))
    .argument('<file-or-folder>', 'the .sql.gz file (its manifest must be next to it), or with --day the offload folder')
    .option('--day <yyyy-mm-dd>', 'restore every artefact in the folder whose rows fall on that day (UTC)')
    .action(async (target: string, flags: TargetFlags & { day?: string }) => {
      const url = (await primaryTargetOf(flags, 'maintenance restore')).url;
      const describe = (r: RestoreResult) => (r.outcome === 'restored' ? `${r.table}: ${r.rows} rows restored` : `${r.table}: already present with the same ${r.rows} rows, nothing done`);
      if (!flags.day) {
        if (fs.existsSync(target) && fs.statSync(target).isDirectory()) throw new UserError(`${target} is a folder: give --day <yyyy-mm-dd> to restore that day's artefacts, or one .sql.gz file`);
        console.log(describe(await restoreOffloaded(url, path.resolve(target))));
        return;
      }
      const results = await restoreDay(url, path.resolve(target), flags.day);
      if (!results.length) console.log(`no artefact in ${target} holds rows of ${flags.day}`);
      for (const r of results) console.log(r.result ? describe(r.result) : `FAILED ${r.error}`);
      const failed = results.filter((r) => r.error);
      if (failed.length) throw new OperationError(`${failed.length} of ${results.length} artefact(s) of ${flags.day} not restored; first: ${failed[0].error}`);
      const rows = results.reduce((n, r) => n + (r.result?.rows ?? 0), 0);
      console.log(`${flags.day}: ${results.length} artefact(s), ${rows} rows present`);
    });

  withTargetOptions(maintenance.command('run').description('for schedulers: history moves for every set, log rotation, then verified offload, with one summary; exits non-zero when anything failed'))
    .option('--older-than <age>', 'age in whole days for history moves and offload', '30d')
    .addOption(new Option('--chunk <messages>', `messages per history transaction (default ${DEFAULT_CHUNK})`).argParser(parseChunk))
    .option('--out <dir>', 'folder for offloaded dumps (without it the offload step is skipped)')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: TargetFlags & { olderThan: string; chunk?: number; out?: string; json?: boolean }) => {
      if (flags.out) ensureWritableFolder(flags.out);
      const summary = await runMaintenance({
        url: (await primaryTargetOf(flags, 'maintenance run')).url, olderThanDays: parseDays(flags.olderThan), chunk: flags.chunk,
        outDir: flags.out ? path.resolve(flags.out) : undefined, progress: flags.json ? 'none' : 'auto', log,
      });
      if (flags.json) printJson(summary);
      else for (const line of describeRun(summary)) console.log(line);
      if (!summary.ok) throw new OperationError(`maintenance run: ${summary.failures.length} problem(s); first: ${summary.failures[0]}`);
    });
}
