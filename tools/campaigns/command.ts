// `reminderly-db campaign create|list|upgrade|retire`.
import { Command, Option } from 'commander';
import path from 'path';
import { primaryTargetOf, printJson, positiveInt, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { OperationError, UserError } from '../errors';
import { withConnection } from '../sql/connection';
import { DEFAULT_LOCK_TIMEOUT_SECONDS, withSchemaLock } from '../sql/schema-lock';
import { parseUrl } from '../sql/connection';
import { cancelRetire, retireCampaignSet } from './retire';
import { ensureWritableFolder } from '../maintenance/verified-dump';
import { checkCampaignsExist, createCampaignSet, listSets, parseCampaignId, upgradeSets } from './sets';

const log = (line: string) => process.stderr.write(line + '\n');

/** Every set change happens under the schema lock, like migrations, so they never interleave. */
async function underSchemaLock<T>(flags: TargetFlags & { lockTimeout?: number }, what: string, fn: (conn: import('../sql/connection').Connection) => Promise<T>): Promise<T> {
  const { url } = await primaryTargetOf(flags, what);
  const database = parseUrl(url).database;
  if (!database) throw new UserError('the URL must name a database');
  return withConnection(url, (conn) => withSchemaLock(conn, database, flags.lockTimeout ?? DEFAULT_LOCK_TIMEOUT_SECONDS,
    () => fn(conn), (holder) => log(`waiting for the schema lock (held by connection ${holder})`)));
}

export function registerCampaignCommands(program: Command): void {
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
