// `reminderly-db messages load --campaign N FILE.csv|.jsonl [--reject-file F] [--packet P] [--again]`.
import { Command, Option } from 'commander';
import { positiveInt, printJson, targetOf, TargetFlags, withTargetOptions } from '../cli-options';
import { UserError } from '../errors';
import { parseCampaignId } from '../campaigns/sets';
import { loadMessages, LoadPath } from './loader';

interface LoadFlags extends TargetFlags {
  campaign: string;
  rejectFile?: string;
  packet?: string;
  path?: LoadPath | 'auto';
  batchRows?: number;
  json?: boolean;
  again?: boolean;
}

export function registerMessagesCommands(program: Command): void {
  const messages = program.command('messages').description('a campaign\'s messages: bulk load');
  withTargetOptions(messages.command('load').description('validate a .csv or .jsonl file of messages and load it into a campaign (all or nothing, unless --reject-file)'))
    .argument('<file>', 'messages file: .csv with a header row, or .jsonl; fields contact_id, method, packet, send_after, subject, body')
    .requiredOption('--campaign <id>', 'campaign id')
    .option('--reject-file <file>', 'load the good rows and write the bad ones here (with a reject_reason field)')
    .option('--packet <n>', 'packet for rows that do not name one (default 0)')
    .addOption(new Option('--path <path>', 'force LOAD DATA or INSERT (default: LOAD DATA where the server allows local infile)').choices(['auto', 'load-data', 'insert']))
    .addOption(new Option('--batch-rows <n>', 'rows per INSERT statement on the INSERT path').argParser(positiveInt('--batch-rows')))
    .option('--again', 'load the file even though the same content (sha256) was already loaded into the campaign')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, flags: LoadFlags) => {
      const campaignId = parseCampaignId(flags.campaign);
      let packet: number | undefined;
      if (flags.packet !== undefined) {
        if (!/^\d{1,10}$/.test(flags.packet) || Number(flags.packet) > 4294967295) throw new UserError(`--packet must be a whole number from 0 to 4294967295, got "${flags.packet}"`);
        packet = Number(flags.packet);
      }
      const result = await loadMessages({
        url: targetOf(flags).url, campaignId, file, rejectFile: flags.rejectFile, packet, path: flags.path, batchRows: flags.batchRows, again: flags.again,
        progress: flags.json ? 'none' : 'auto',
      });
      if (flags.json) return printJson({ ...result, problems: result.problems.slice(0, 1000) });
      console.log(`${result.loaded} of ${result.rows} rows loaded into campaign ${campaignId} in ${result.seconds.toFixed(1)} s ` +
        `(${result.rowsPerSecond} rows/s) with ${result.path === 'load-data' ? 'LOAD DATA LOCAL INFILE' : 'multi-row INSERT'}: ${result.pathReason}` +
        (result.rejected ? `; ${result.rejected} rejected rows written to ${result.rejectFile}` : ''));
    });
}
