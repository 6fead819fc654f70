// `reminderly-db campaign retire`: registered on the `campaign` command, implemented here with
// the other verified dumps.
import { Command, Option } from 'commander';
import path from 'path';
import { printJson, positiveInt, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { UserError } from '../errors';
import { parseCampaignId } from '../campaigns/sets';
import { underSchemaLock } from '../campaigns/under-lock';
import { cancelRetire, retireCampaignSet } from './retire';
import { ensureWritableFolder } from './verified-dump';

const log = (line: string) => process.stderr.write(line + '\n');

export function registerRetireCommand(campaign: Command): void {
  withTargetOptions(campaign.command('retire').description('freeze a finished campaign\'s set (the routines refuse it), dump it (one consistent dump, verified by restoring it into the scratch schema <db>_verify), then drop it'))
    .argument('<campaign-id>', 'campaign id')
    .option('--out <dir>', 'folder for campaign_<id>.sql.gz and campaign_<id>.manifest.json (required unless --cancel)')
    .option('--force', 'retire even with unfinished messages (no status yet, or one not final)')
    .option('--cancel', 'return a set left retiring by an interrupted retire to service')
    .addOption(new Option('--lock-timeout <seconds>', 'how long to wait for another run, then for the transactions inside the set (default 60)').argParser(positiveInt('--lock-timeout')))
    .option('--json', 'print the result as JSON')
    .action(async (id: string, flags: TargetFlags & { out?: string; force?: boolean; cancel?: boolean; lockTimeout?: number; json?: boolean }) => {
      const campaignId = parseCampaignId(id);
      const { url } = targetOf(flags);
      if (flags.cancel) {
        if (flags.out || flags.force) throw new UserError('campaign retire --cancel takes no --out or --force');
        const cancelled = await underSchemaLock(flags, 'campaign retire --cancel', (conn) => cancelRetire(conn, campaignId, flags.lockTimeout));
        if (flags.json) return printJson(cancelled);
        return console.log(cancelled.outcome === 'returned-to-service'
          ? `campaign ${campaignId}: retire cancelled, its set is back in service`
          : `campaign ${campaignId}: its set is not being retired (${cancelled.state}), nothing changed`);
      }
      if (!flags.out) throw new UserError('campaign retire needs --out <dir> (where the dump and its manifest go)');
      const out = flags.out;
      // Checked before the schema lock is taken: a bad --out never holds the lock.
      ensureWritableFolder(out);
      const result = await underSchemaLock(flags, 'campaign retire', (conn) => retireCampaignSet(conn, {
        url, campaignId, outDir: path.resolve(out), force: flags.force, lockTimeout: flags.lockTimeout, log,
      }));
      if (flags.json) return printJson(result);
      if (result.outcome === 'already-retired') return console.log(`campaign ${campaignId}: its set is already retired, nothing to do`);
      console.log(`campaign ${campaignId}: ${result.tables.length} tables, ${result.rows} rows dumped to ${result.file}` +
        `${result.reusedDump ? ' (by an earlier run)' : ''}, verified by restore, set dropped and marked retired` +
        `${result.resumed ? ' (an interrupted retire, resumed)' : ''}` +
        `${result.unfinished ? ` (--force: ${result.unfinished} unfinished messages were in it)` : ''}`);
    });
}
