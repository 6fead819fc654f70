// The runner on a real server: failures name the file, line, column, statement and server code;
// nothing after a failure runs; a run resumes from a statement; files are split as the client would.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { expect } from 'chai';
import { Connection, queryRows } from '../../tools/sql/connection';
import { UserError } from '../../tools/errors';
import { detectServer } from '../../tools/sql/flavour';
import { SqlSplitError, splitSql, SqlStatement } from '../../tools/sql/splitter';
import { detectClientDialect, readSqlFile, runSqlFile, runStatements, SqlRunError } from '../../tools/sql/runner';
import { rejection } from '../helpers/rejection';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

async function tableExists(conn: Connection, table: string): Promise<boolean> {
  const rows = await queryRows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table]);
  return rows.length > 0;
}

describe('sql runner', function () {
  this.timeout(60_000);
  const db = useThrowawayDatabase({ label: 'sqlrunner' });
  let conn: Connection;
  let dir: string;

  /** Writes a file under the temporary folder; returns its path. */
  const write = (name: string, content: string | Buffer) => {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    return file;
  };

  before(async () => {
    conn = await db.connect();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-sql-runner-'));
  });
  after(async () => {
    await conn?.end();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('a failing statement', () => {
    const sql = [
      'CREATE TABLE first_table (id INT PRIMARY KEY);',
      'INSERT INTO first_table VALUES (1);',
      '',
      '  -- the next statement fails',
      '  INSERT INTO missing_table',
      '    VALUES (2);',
      'CREATE TABLE after_failure (id INT);',
    ].join('\n');
    let statements: SqlStatement[];
    let failure: SqlRunError;

    before(async () => {
      statements = splitSql(sql);
      failure = await rejection(runStatements(conn, statements, { file: 'schema/V0001__x.sql' })) as SqlRunError;
    });

    it('is an SqlRunError naming file, line, column, statement, its first line and the server code', () => {
      expect(failure).to.be.instanceOf(SqlRunError);
      expect(failure.message).to.equal('schema/V0001__x.sql:5:3: statement 3 ("INSERT INTO missing_table") failed: ' +
        `ER_NO_SUCH_TABLE (1146): Table '${db.name}.missing_table' doesn't exist`);
      expect(failure).to.include({
        file: 'schema/V0001__x.sql', line: 5, column: 3, statementIndex: 2, firstLine: 'INSERT INTO missing_table',
        serverCode: 'ER_NO_SUCH_TABLE', serverErrno: 1146, sqlState: '42S02',
      });
      expect(failure.serverMessage).to.match(/missing_table' doesn't exist/);
    });

    it('ran everything before it and nothing after it', async () => {
      expect(await queryRows(conn, 'SELECT id FROM first_table')).to.deep.equal([{ id: 1 }]);
      expect(await tableExists(conn, 'after_failure')).to.equal(false);
    });

    it('resumes from the failed statement with fromIndex, reporting each statement run', async () => {
      await conn.query('CREATE TABLE missing_table (id INT)');
      const seen: number[] = [];
      const ran = await runStatements(conn, statements, {
        file: 'schema/V0001__x.sql', fromIndex: failure.statementIndex, onStatement: (s) => { seen.push(s.index); },
      });
      expect(ran).to.equal(2);
      expect(seen).to.deep.equal([2, 3]);
      expect(await queryRows(conn, 'SELECT id FROM missing_table')).to.deep.equal([{ id: 2 }]);
      expect(await tableExists(conn, 'after_failure')).to.equal(true);
      // The statements before fromIndex were not run again (the INSERT would have hit the primary key).
      expect(await queryRows(conn, 'SELECT id FROM first_table')).to.deep.equal([{ id: 1 }]);
    });

    it('refuses a fromIndex beyond the file', async () => {
      const err = await rejection(runStatements(conn, statements, { file: 'x.sql', fromIndex: 9 }));
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.equal('x.sql: cannot start at statement 10, the file has 4 statements');
    });
  });

  it('reports a syntax error with the server code ER_PARSE_ERROR', async () => {
    const file = write('schema/V0002__broken.sql', 'SELECT 1;\n\nCREATE TABLE foo (\n  id INT,\n);\n');
    const err = await rejection(runSqlFile(conn, file, { file: 'schema/V0002__broken.sql' })) as SqlRunError;
    expect(err).to.be.instanceOf(SqlRunError);
    expect(err.message).to.match(/^schema\/V0002__broken\.sql:3:1: statement 2 \("CREATE TABLE foo \("\) failed: ER_PARSE_ERROR \(1064\): You have an error in your SQL syntax/);
    expect(err.sqlState).to.equal('42000');
  });

  it('sends statements one at a time, never several in one query', async () => {
    const [statement] = splitSql('SELECT 1');
    const err = await rejection(runStatements(conn, [{ ...statement, text: 'SELECT 1; SELECT 2' }], { file: 'x.sql' })) as SqlRunError;
    expect(err.serverCode).to.equal('ER_PARSE_ERROR');
  });

  it('leaves errors that are not the server refusing a statement as they are', async () => {
    const other = await db.connect();
    other.destroy();
    const err = await rejection(runStatements(other, splitSql('SELECT 1'), { file: 'x.sql' }));
    expect(err).not.to.be.instanceOf(SqlRunError);
  });

  describe('runSqlFile', () => {
    it('refuses a file the client would misread before running any of it, naming the file', async () => {
      const file = write('split-error.sql', 'CREATE TABLE never_created (id INT);\ntee other.txt;\n');
      const err = await rejection(runSqlFile(conn, file, { file: 'seeds/split-error.sql' }));
      expect(err).to.be.instanceOf(SqlSplitError);
      expect(err.message).to.match(/^seeds\/split-error\.sql:2:1: the client command "tee" is not supported/);
      expect(await tableExists(conn, 'never_created')).to.equal(false);
    });

    it('stores routine bodies as the matching client would: comments kept only by recent MySQL clients', async () => {
      const file = write('procedures/commented.sql', [
        'DELIMITER $$',
        'CREATE PROCEDURE commented()',
        'BEGIN',
        '  -- why this is here',
        '  SELECT 1;',
        'END$$',
        'DELIMITER ;',
      ].join('\n'));
      expect(await runSqlFile(conn, file)).to.equal(1);
      const [routine] = await queryRows<{ body: string; sqlMode: string }>(conn,
        "SELECT ROUTINE_DEFINITION AS body, SQL_MODE AS sqlMode FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'commented'");
      const server = await detectServer(conn);
      expect(routine.body).to.equal(server.clientKeepsComments ? 'BEGIN\n  -- why this is here\n  SELECT 1;\nEND' : 'BEGIN\n  \n  SELECT 1;\nEND');
      // mysql2 asks for IGNORE_SPACE on connecting; the client does not, and the mode is stored with the routine.
      expect(routine.sqlMode.split(',')).not.to.include('IGNORE_SPACE');
    });

    it('sends a file\'s bytes as they are: latin1 text and binary strings need not be UTF-8', async () => {
      // 0xE9 is "é" in latin1; the VARBINARY literal holds 0xFF, an escaped quote and a backslash pair, as mysqldump writes them.
      const bytes = Buffer.concat([
        Buffer.from("CREATE TABLE raw_bytes (t VARCHAR(10) CHARACTER SET latin1, b VARBINARY(10));\nINSERT INTO raw_bytes VALUES (_latin1 'caf"),
        Buffer.from([0xe9]), Buffer.from("', '"), Buffer.from([0xff, 0x5c, 0x27, 0x5c, 0x5c, 0xfe]), Buffer.from("');\n"),
      ]);
      expect(await runSqlFile(conn, write('latin1-data.sql', bytes))).to.equal(2);
      const [row] = await queryRows<{ t: string; b: string }>(conn, 'SELECT HEX(t) AS t, HEX(b) AS b FROM raw_bytes');
      expect(row).to.deep.equal({ t: '636166E9', b: 'FF275CFE' });
    });

    it('runs SOURCE (MariaDB) relative to the current directory, nested, with errors naming the sourced file', async () => {
      if ((await detectServer(conn)).flavour !== 'mariadb') {
        // MySQL 9's client does not run SOURCE in batch mode (--commands is off): refused, nothing run.
        const err = await rejection(runSqlFile(conn, write('src/mysql.sql', 'CREATE TABLE not_sourced (id INT);\nsource other.sql\n'), { file: 'src/mysql.sql' }));
        expect(err.message).to.match(/^src\/mysql\.sql:2:1: the client command "source" is not supported/);
        expect(await tableExists(conn, 'not_sourced')).to.equal(false);
        return;
      }
      write('src/inner/leaf.sql', 'INSERT INTO sourced VALUES (2);\nDELIMITER $$\n');
      write('src/middle.sql', 'INSERT INTO sourced VALUES (1);\nsource src/inner/leaf.sql\nINSERT INTO sourced VALUES (3)$$\n');
      const top = write('src/top.sql', 'CREATE TABLE sourced (id INT PRIMARY KEY);\n\\. src/middle.sql\nDELIMITER ;\nINSERT INTO sourced VALUES (4);\n');
      const cwd = process.cwd();
      try {
        process.chdir(dir);
        expect(await runSqlFile(conn, top)).to.equal(5);
        expect((await queryRows<{ id: number }>(conn, 'SELECT id FROM sourced ORDER BY id')).map((r) => r.id)).to.deep.equal([1, 2, 3, 4]);

        write('src/bad-leaf.sql', 'SELECT 1;\nINSERT INTO no_such_table VALUES (1);\n');
        const failing = write('src/failing.sql', 'source src/bad-leaf.sql;\nCREATE TABLE after_bad_leaf (id INT);\n');
        const err = await rejection(runSqlFile(conn, failing)) as SqlRunError;
        expect(err).to.be.instanceOf(SqlRunError);
        expect(err.message).to.match(/^src\/bad-leaf\.sql:2:1: statement 2 \("INSERT INTO no_such_table VALUES \(1\)"\) failed: ER_NO_SUCH_TABLE/);
        expect(await tableExists(conn, 'after_bad_leaf')).to.equal(false);

        const loop = write('src/loop.sql', 'SELECT 1;\nsource src/loop.sql\n');
        expect((await rejection(runSqlFile(conn, loop, { file: 'src/loop.sql' }))).message)
          .to.equal('src/loop.sql:2:1: SOURCE src/loop.sql would read src/loop.sql inside itself');
        expect((await rejection(runSqlFile(conn, write('src/missing.sql', 'SELECT 1;\nsource src/nope.sql\n'), { file: 'src/missing.sql' }))).message)
          .to.equal('src/missing.sql:2:1: cannot SOURCE src/nope.sql: no such file');
      } finally {
        process.chdir(cwd);
      }
    });

    it('puts the session in the client\'s character set when asked, and refuses one it cannot read', async () => {
      const file = write('charset.sql', "CREATE TABLE session_charset AS SELECT @@character_set_client AS cs, @@collation_connection AS co, CHAR_LENGTH('é') AS n;\n");
      const other = await db.connect();
      try {
        await runSqlFile(other, file, { characterSet: 'latin1' });
        const [row] = await queryRows<{ cs: string; co: string; n: number }>(conn, 'SELECT cs, co, n FROM session_charset');
        // The two UTF-8 bytes of "é" are two latin1 characters: what the client sends in a latin1 session.
        expect(row).to.deep.equal({ cs: 'latin1', co: 'latin1_swedish_ci', n: 2 });
        expect((await rejection(runSqlFile(other, file, { characterSet: 'sjis' }))).message).to.match(/^character set sjis is not supported/);
        expect((await rejection(runSqlFile(other, file, { characterSet: 'klingon' }))).message).to.match(/^unknown character set "klingon"/);
      } finally {
        await other.end();
      }
    });

    it('knows the client dialect of the server under test', async () => {
      const server = await detectServer(conn);
      const dialect = await detectClientDialect(conn);
      expect(dialect.client).to.equal(server.flavour);
      if (server.flavour === 'mariadb') expect(dialect).to.deep.equal({ client: 'mariadb', keepComments: false, dollarQuotes: false });
      else expect(dialect.keepComments).to.equal(server.clientKeepsComments);
    });
  });

  describe('readSqlFile', () => {
    it('reads UTF-8 text without its byte order mark', () => {
      expect(readSqlFile(write('bom.sql', '\uFEFFSELECT \'é\';'))).to.equal("SELECT 'é';");
    });

    it('turns a missing file, a folder or non-UTF-8 bytes into a one-line UserError', () => {
      expect(() => readSqlFile(path.join(dir, 'nope.sql'))).to.throw(UserError, /^cannot read .*nope\.sql: no such file$/);
      expect(() => readSqlFile(dir)).to.throw(UserError, /: it is a directory$/);
      expect(() => readSqlFile(write('latin1.sql', Buffer.from([0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x27, 0xe9, 0x27]))))
        .to.throw(UserError, /latin1\.sql is not UTF-8 text$/);
    });
  });
});
