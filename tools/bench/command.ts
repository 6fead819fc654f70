// `reminderly-db bench --url URL [--rows 200000] [--out bench-results.json] [--svg bench-chart.svg]
//  [--only load,claim,scale,maintenance]`: one run on one server, in a throwaway database.
import { Command, Option } from 'commander';
import path from 'path';
import { positiveInt, printJson } from '../cli-options';
import { OperationError, UserError } from '../errors';
import { testServerUrl } from '../harness/database';
import { parseUrl, withDatabase } from '../sql/connection';
import { formatReport } from './report';
import { runBench } from './run';
import { DEFAULT_SECTIONS, Section, SECTIONS } from './types';

interface BenchFlags {
  url?: string;
  rows: number;
  sampleRows: number;
  claimRows?: number;
  workers: string;
  batch: number;
  scaleSets: number;
  callTimeout: number;
  maintenanceRows?: number;
  offloadRows?: number;
  loadRepeats: number;
  sqlRunMb: number;
  restartRows: number;
  contacts: number;
  only: string;
  enableLocalInfile?: boolean;
  out: string;
  svg: string;
  json?: boolean;
}

export function parseSections(text: string): Section[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new UserError('--only needs at least one of ' + SECTIONS.join(', '));
  for (const n of names) {
    if (!(SECTIONS as readonly string[]).includes(n)) throw new UserError(`--only: unknown section "${n}" (expected ${SECTIONS.join(', ')})`);
  }
  return SECTIONS.filter((s) => names.includes(s));
}

export function parseWorkers(text: string): number[] {
  const counts = text.split(',').map((s) => s.trim());
  for (const c of counts) {
    if (!/^\d+$/.test(c) || Number(c) < 1 || Number(c) > 64) throw new UserError(`--workers: "${c}" is not a worker count from 1 to 64`);
  }
  return [...new Set(counts.map(Number))].sort((a, b) => a - b);
}

export function registerBenchCommands(program: Command): void {
  program.command('bench')
    .description('measure bulk load, claim/complete, campaign-set scale and maintenance on one server, in a throwaway database dropped at the end')
    .addOption(new Option('--url <url>', 'server URL (any database in it is ignored); default MYSQL_URL or mysql://root@127.0.0.1:3306'))
    .addOption(new Option('--rows <n>', 'messages for the bulk load').default(200_000).argParser(positiveInt('--rows')))
    .addOption(new Option('--sample-rows <n>', 'rows for the single-row INSERT sample').default(5000).argParser(positiveInt('--sample-rows')))
    .addOption(new Option('--claim-rows <n>', 'ready messages for each claim run (default: --rows)').argParser(positiveInt('--claim-rows')))
    .addOption(new Option('--workers <list>', 'worker counts for the claim runs').default('1,4,16'))
    .addOption(new Option('--batch <n>', 'messages per claimed batch').default(100).argParser(positiveInt('--batch')))
    .addOption(new Option('--scale-sets <n>', 'campaign sets to create and upgrade (9 tables each)').default(1000).argParser(positiveInt('--scale-sets')))
    .addOption(new Option('--call-timeout <seconds>', 'stop `campaign list` (KILL QUERY) after this long and report it as not finished').default(120).argParser(positiveInt('--call-timeout')))
    .addOption(new Option('--maintenance-rows <n>', 'finished messages to move to history, once per chunk size 100 / 1,000 / 10,000 (default: --rows, at most 100,000; the issue\'s figure: 200000)').argParser(positiveInt('--maintenance-rows')))
    .addOption(new Option('--offload-rows <n>', 'log rows offloaded by the toolkit and by hand (default: --maintenance-rows; the issue\'s figure: 1000000)').argParser(positiveInt('--offload-rows')))
    .addOption(new Option('--sql-run-mb <n>', 'size in MB of the dump the "sql run" section replays with the client and with the runner').default(100).argParser(positiveInt('--sql-run-mb')))
    .addOption(new Option('--restart-rows <n>', 'messages of the restart section\'s campaign: half claimed by 8 workers before a kill -9 and restart of a private server, half after').default(60_000).argParser(positiveInt('--restart-rows')))
    .addOption(new Option('--load-repeats <n>', 'runs of the loader and the ceiling, interleaved; the best of each counts').default(2).argParser(positiveInt('--load-repeats')))
    .addOption(new Option('--contacts <n>', 'contacts of the seeded company').default(10_000).argParser(positiveInt('--contacts')))
    .addOption(new Option('--only <sections>', `sections to run: ${SECTIONS.join(',')} (restart only when named: it starts, kills and restarts a private server)`).default(DEFAULT_SECTIONS.join(',')))
    .option('--enable-local-infile', 'if the server has local_infile=OFF, switch it ON for the bulk-load section only (SET GLOBAL, restored afterwards) so the ceiling can be measured')
    .addOption(new Option('--out <file>', 'results as JSON').default('bench-results.json'))
    .addOption(new Option('--svg <file>', 'chart of rows/s by method').default('bench-chart.svg'))
    .option('--json', 'print the results JSON on stdout instead of the table')
    .action(async (flags: BenchFlags) => {
      const only = parseSections(flags.only);
      const workers = parseWorkers(flags.workers);
      const given = flags.url ?? testServerUrl();
      parseUrl(given);
      const serverUrl = withDatabase(given, null);
      const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
      if (parseUrl(given).database) log(`the database in --url (${parseUrl(given).database}) is not touched: the bench works in its own throwaway database`);
      const { report, failedSections } = await runBench({
        serverUrl, rows: flags.rows, sampleRows: flags.sampleRows, claimRows: flags.claimRows ?? flags.rows, workers, batchSize: flags.batch,
        scaleSets: flags.scaleSets, callTimeoutSeconds: flags.callTimeout, maintenanceRows: flags.maintenanceRows ?? Math.min(flags.rows, 100_000),
        offloadRows: flags.offloadRows ?? flags.maintenanceRows ?? Math.min(flags.rows, 100_000), sqlRunMegabytes: flags.sqlRunMb, restartRows: flags.restartRows, loadRepeats: flags.loadRepeats, contacts: flags.contacts,
        only, enableLocalInfile: !!flags.enableLocalInfile, out: path.resolve(flags.out), svg: path.resolve(flags.svg),
        progress: 'auto', log,
      });
      if (flags.json) printJson(report);
      else process.stdout.write(formatReport(report) + `\nresults: ${path.resolve(flags.out)}\nchart:   ${path.resolve(flags.svg)}\n`);
      if (!report.correct) throw new OperationError('a claim run lost or duplicated messages (see the duplicates and lost columns)');
      if (failedSections.length) throw new OperationError(`section(s) stopped with an error: ${failedSections.join(', ')} (see the notes)`);
    });
}
