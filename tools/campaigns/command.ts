// `reminderly-db campaign create|list|upgrade` (`campaign retire` is registered by tools/maintenance/retire-command.ts).
import { Command, Option } from 'commander';
import { printJson, positiveInt, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { OperationError, UserError } from '../errors';
import { withConnection } from '../sql/connection';
import { underSchemaLock } from './under-lock';
import { checkCampaignsExist, createCampaignSet, listSets, parseCampaignId, upgradeSets } from './sets';

const log = (line: string) => process.stderr.write(line + '\n');

/** Registers `campaign` and returns it, so that `campaign retire` (tools/maintenance) joins it. */
export function registerCampaignCommands(program: Command): Command {
  const campaign = program.command('campaign').description('per-campaign table sets: create, list, upgrade, retire');

  withTargetOptions(campaign.command('create').description('create the table sets of campaigns at the newest template version (idempotent)'))
    .argument('<campaign-id...>', 'campaign ids')
    .option('--json', 'print the result as JSON')
    .action(async (ids: string[], flags: TargetFlags & { json?: boolean }) => {
      const campaignIds = ids.map(parseCampaignId);
      const results = await underSchemaLock(flags, 'campaign create', async (conn) => {
        await checkCampaignsExist(conn, campaignIds);
        const out = [];
        for (const id of campaignIds) out.push(await createCampaignSet(conn, id));
        return out;
      });
      if (flags.json) return printJson(results);
      for (const r of results) {
        console.log(r.created ? `campaign ${r.campaignId}: set created at template v${r.version}` : `campaign ${r.campaignId}: set already exists (v${r.version}), nothing changed`);
      }
    });

  withTargetOptions(campaign.command('list').description('every set with its template version, state and row counts'))
    .option('--exact', 'count rows exactly (slower) instead of InnoDB estimates')
    .option('--json', 'print as JSON')
    .action(async (flags: TargetFlags & { json?: boolean; exact?: boolean }) => {
      const sets = await withConnection(targetOf(flags).url, (conn) => listSets(conn, { exact: flags.exact }));
      if (flags.json) return printJson(sets);
      if (!sets.length) return console.log('no campaign sets');
      console.log(['campaign', 'company', 'version', 'set', 'campaign state', 'messages', 'status updates', 'name'].join('\t'));
      for (const s of sets) {
        console.log([s.campaignId, s.companyId, `v${s.templateVersion}`, s.setState, s.campaignState, s.rows.messages ?? '-', s.rows.status_updates ?? '-', JSON.stringify(s.campaignName)].join('\t'));
      }
      // A set left retiring is refused by the routines until its retire is finished or cancelled.
      for (const s of sets.filter((x) => x.setState === 'retiring')) {
        log(`campaign ${s.campaignId}: retiring (the routines refuse it): campaign retire ${s.campaignId} --out DIR finishes it, --cancel returns it to service`);
      }
    });

  withTargetOptions(campaign.command('upgrade').description('bring every set (--all) to the newest template version; resumable and safe to rerun'))
    .option('--all', 'upgrade every set (required: upgrades are database-wide)')
    .addOption(new Option('--to <version>', 'target template version (default: newest)').argParser(positiveInt('--to')))
    .addOption(new Option('--lock-timeout <seconds>', 'how long to wait for another run').argParser(positiveInt('--lock-timeout')))
    .option('--json', 'print the result as JSON')
    .action(async (flags: TargetFlags & { all?: boolean; to?: number; lockTimeout?: number; json?: boolean }) => {
      if (!flags.all) throw new UserError('campaign upgrade needs --all (every set is brought to the same version)');
      const results = await underSchemaLock(flags, 'campaign upgrade', (conn) => upgradeSets(conn, { toVersion: flags.to, progress: flags.json ? 'none' : 'auto', onLine: log }));
      if (flags.json) printJson(results);
      else {
        const skipped = results.filter((r) => r.outcome === 'skipped').length;
        console.log(results.length
          ? `${results.filter((r) => r.outcome === 'upgraded').length} of ${results.length} sets upgraded${skipped ? ` (${skipped} skipped: being retired)` : ''}`
          : 'every set is at the target version: nothing to do');
      }
      const failed = results.filter((r) => r.outcome === 'failed');
      if (failed.length) throw new OperationError(`${failed.length} set(s) failed to upgrade, first: campaign ${failed[0].campaignId}: ${failed[0].error}`);
    });
  return campaign;
}
