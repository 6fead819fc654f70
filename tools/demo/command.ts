// `reminderly-db demo`: the whole pipeline on a local server, with a summary.
import { Command, Option } from 'commander';
import { positiveInt, printJson } from '../cli-options';
import { redactUrl } from '../sql/connection';
import { chooseServer } from './server';
import { formatSummary, runDemo } from './demo';

export function registerDemoCommands(program: Command): void {
  program.command('demo')
    .description('run the whole pipeline in a fresh reminderly_demo database: load, claim, send, callbacks, history, offload')
    .option('--url <url>', 'server to use (default: MYSQL_URL, else 127.0.0.1:3306, else a private server)')
    .addOption(new Option('--messages <n>', 'messages to load').argParser(positiveInt('--messages')).default(100_000))
    .addOption(new Option('--contacts <n>', 'contacts to generate').argParser(positiveInt('--contacts')).default(10_000))
    .addOption(new Option('--workers <n>', 'concurrent workers').argParser(positiveInt('--workers')).default(4))
    .option('--out <dir>', 'where offloaded log dumps go', 'demo-output')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: { url?: string; messages: number; contacts: number; workers: number; out: string; json?: boolean }) => {
      const server = await chooseServer(flags.url);
      const log = (line: string) => process.stderr.write(line + '\n');
      log(`demo server: ${redactUrl(server.url)} (${server.why})`);
      try {
        const summary = await runDemo({ serverUrl: server.url, messages: flags.messages, contacts: flags.contacts, workers: flags.workers, outDir: flags.out, log });
        if (flags.json) printJson(summary);
        else console.log(formatSummary(summary));
      } finally {
        await server.stop();
      }
    });
}
