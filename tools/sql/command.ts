// `reminderly-db sql run FILE...`: .sql files run statement by statement, split exactly as the
// command-line client matching the server splits them.
import { Command, Option } from 'commander';
import { OperationError, UserError } from '../errors';
import { DEFAULT_SERVER_URL, parseUrl, redactUrl, withConnection } from './connection';
import { detectServer } from './flavour';
import { chooseClientCharacterSet, detectClientDialect, fileKey, matchClientSession, readSqlBytes, runStatements, splitFileBytes, SqlRunError } from './runner';

interface RunFlags {
  url: string;
  defaultCharacterSet?: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function runFiles(files: string[], flags: RunFlags): Promise<void> {
  if (!parseUrl(flags.url).database) {
    throw new UserError(`the URL must name a database: ${redactUrl(flags.url)} (mysql://user:password@host:port/DATABASE)`);
  }
  // Every file is read and split before anything runs: a typo in the last file leaves the database untouched.
  // (Files named by SOURCE are read then too, as they are when the client reaches them.)
  const contents = files.map((file) => ({ file, bytes: readSqlBytes(file) }));
  await withConnection(flags.url, async (conn) => {
    const server = await detectServer(conn);
    const dialect = await detectClientDialect(conn);
    const prepared = contents.map(({ file, bytes }) => ({ file, statements: splitFileBytes(bytes, file, dialect, fileKey(file)) }));
    const characterSet = chooseClientCharacterSet(server.flavour, server.clientCommand, flags.defaultCharacterSet);
    await matchClientSession(conn, characterSet.name);
    console.log(`session character set ${characterSet.name} (${characterSet.reason})`);
    for (const { file, statements } of prepared) {
      try {
        await runStatements(conn, statements, { file });
      } catch (err) {
        // The server refused the SQL: one line naming the statement, not a stack trace.
        if (err instanceof SqlRunError) throw new OperationError(err.message);
        throw err;
      }
      console.log(`applied ${file}: ${plural(statements.length, 'statement')}`);
    }
  });
}

export function registerSqlCommands(program: Command): void {
  const sql = program.command('sql').description('run .sql files exactly as the mysql command-line client does');

  sql.command('run')
    .description('run .sql files in order, one statement at a time, as the client matching the server would '
      + '(DELIMITER, comments, quoting); stops at the first statement the server rejects (exit 2)')
    .argument('<file...>', '.sql files, run in the order given')
    .option('--default-character-set <charset>', "the session's character set, as the client's option of that name "
      + "(default: the client's own default, which follows the locale)")
    .addOption(new Option('--url <url>', 'database URL, naming the database (mysql://user:password@host:port/database)')
      .default(process.env.MYSQL_URL || DEFAULT_SERVER_URL, '$MYSQL_URL, else mysql://root@127.0.0.1:3306'))
    .action((files: string[], flags: RunFlags) => runFiles(files, flags));
}
