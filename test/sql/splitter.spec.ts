// The splitter alone: every construct of the client's reader, with the statement texts the real
// clients were seen to send (MariaDB 10.11 `mariadb`, MySQL 9.7 `mysql`) and exact positions.
import { expect } from 'chai';
import { describeServer } from '../../tools/sql/flavour';
import { clientDialectFor, splitSql, splitSqlBytes, SourcedFile, SplitOptions, SqlSplitError, SqlStatement } from '../../tools/sql/splitter';

const MARIADB: SplitOptions = { client: 'mariadb' };
const MYSQL_9: SplitOptions = { client: 'mysql', keepComments: true, dollarQuotes: true };

const texts = (sql: string, options?: SplitOptions) => splitSql(sql, options).map((s) => s.text);
const where = (s: SqlStatement) => [s.line, s.column];

function splitError(sql: string, options?: SplitOptions): SqlSplitError {
  try {
    splitSql(sql, options);
  } catch (err) {
    expect(err).to.be.instanceOf(SqlSplitError);
    return err as SqlSplitError;
  }
  throw new Error(`expected a SqlSplitError for ${JSON.stringify(sql)}`);
}

describe('sql splitter', () => {
  describe('statements and positions', () => {
    it('splits at the delimiter and numbers statements with line, column, first line and delimiter', () => {
      const statements = splitSql('SELECT 1;\n  SELECT 2; SELECT 3;\nCREATE TABLE t (\n  id INT\n);\n');
      expect(statements.map((s) => s.text)).to.deep.equal(['SELECT 1', 'SELECT 2', 'SELECT 3', 'CREATE TABLE t (\n  id INT\n)']);
      expect(statements.map((s) => s.index)).to.deep.equal([0, 1, 2, 3]);
      expect(statements.map(where)).to.deep.equal([[1, 1], [2, 3], [2, 13], [3, 1]]);
      expect(statements[3].firstLine).to.equal('CREATE TABLE t (');
      expect(statements.every((s) => s.delimiter === ';')).to.equal(true);
    });

    it('takes a lone -, / or * as ordinary text (negative numbers, dates, arithmetic), also when the delimiter starts with one', () => {
      const insert = "INSERT INTO t VALUES (-1,'2026-12-03',3/4,2*5),(-2,'x',-0.5,1)";
      for (const options of [MARIADB, MYSQL_9]) {
        expect(texts(`${insert};\nSELECT 2;`, options)).to.deep.equal([insert, 'SELECT 2']);
        expect(splitSqlBytes(Buffer.from(`${insert};\nSELECT 2;`), options).map((st) => st.text)).to.deep.equal([insert, 'SELECT 2']);
        expect(texts('DELIMITER //\nSELECT 8/2, 3*4, -1//\nSELECT 1//\nDELIMITER ;\n', options)).to.deep.equal(['SELECT 8/2, 3*4, -1', 'SELECT 1']);
        expect(texts('DELIMITER **\nSELECT 2*3, 4/2**\nDELIMITER ;\n', options)).to.deep.equal(['SELECT 2*3, 4/2']);
      }
      expect(texts('SELECT 1-1, 4/2, 2*3, -5 /* c */ + 1;\nSELECT 2;', MYSQL_9)).to.deep.equal(['SELECT 1-1, 4/2, 2*3, -5 /* c */ + 1', 'SELECT 2']);
      expect(texts('SELECT 1-1 -- c\n, 2;', MYSQL_9)).to.deep.equal(['SELECT 1-1 -- c\n, 2']);
    });

    it('sends a last statement that has no delimiter, without trailing blanks', () => {
      const statements = splitSql('SELECT 1;\nSELECT 2  \n\n');
      expect(statements.map((s) => s.text)).to.deep.equal(['SELECT 1', 'SELECT 2']);
      expect(where(statements[1])).to.deep.equal([2, 1]);
    });

    it('skips empty statements, as the client does', () => {
      expect(texts(';\n;;\nSELECT 1;; ;\n  ;\n')).to.deep.equal(['SELECT 1']);
      expect(texts('')).to.deep.equal([]);
      expect(texts('\n\n   \n')).to.deep.equal([]);
    });

    it('places a statement at its first significant character, past comments and blanks', () => {
      const [first, second] = splitSql('-- header\n/* block\n comment */   SELECT 1;\n\n\t# note\n\tSELECT /* x */ 2;');
      expect(where(first)).to.deep.equal([3, 15]);
      expect(where(second)).to.deep.equal([6, 2]);
      expect(first.firstLine).to.equal('SELECT 1');
    });

    it('counts columns in characters, not bytes or UTF-16 units', () => {
      const statements = splitSql("SELECT 'é😀'; SELECT 2;");
      expect(where(statements[1])).to.deep.equal([1, 14]);
    });

    it('shortens a very long first line for messages', () => {
      const [statement] = splitSql(`SELECT '${'x'.repeat(300)}'`);
      expect(statement.firstLine).to.have.length(101);
      expect(statement.firstLine.endsWith('…')).to.equal(true);
    });
  });

  describe('DELIMITER', () => {
    it('changes the delimiter to any string, case-insensitively, at a line start', () => {
      const sql = [
        'DELIMITER $$', 'SELECT 1$$',
        'delimiter ;;', 'SELECT 2; SELECT 3;;',
        '  DeLiMiTeR //   the rest of the line is ignored', 'SELECT 4 //',
        'DELIMITER @@end@@', 'SELECT 5@@end@@',
        "DELIMITER '| |'", 'SELECT 6| |',
        'DELIMITER ;', 'SELECT 7;',
      ].join('\n');
      const statements = splitSql(sql);
      expect(statements.map((s) => s.text)).to.deep.equal(['SELECT 1', 'SELECT 2; SELECT 3', 'SELECT 4', 'SELECT 5', 'SELECT 6', 'SELECT 7']);
      expect(statements.map((s) => s.delimiter)).to.deep.equal(['$$', ';;', '//', '@@end@@', '| |', ';']);
      expect(statements.map(where)).to.deep.equal([[2, 1], [4, 1], [6, 1], [8, 1], [10, 1], [12, 1]]);
    });

    it('carries routine, trigger and event bodies whose statements end in ";"', () => {
      const sql = [
        'DELIMITER $$',
        'CREATE PROCEDURE p(IN a INT)',
        'BEGIN',
        '  DECLARE x INT DEFAULT 0;',
        '  lbl: LOOP',
        '    SET x = x + 1;',
        '    IF x > a THEN LEAVE lbl; END IF;',
        '  END LOOP lbl;',
        'END$$',
        'CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END$$',
        'CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM x; END $$',
        'DELIMITER ;',
        'CALL p(3);',
      ].join('\n');
      const statements = splitSql(sql);
      expect(statements.map((s) => s.firstLine)).to.deep.equal([
        'CREATE PROCEDURE p(IN a INT)',
        'CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; END',
        'CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM x; END',
        'CALL p(3)',
      ]);
      expect(statements[0].text).to.equal(sql.split('\n').slice(1, 9).join('\n').replace(/\$\$$/, ''));
      expect(statements.map(where)).to.deep.equal([[2, 1], [10, 1], [11, 1], [13, 1]]);
    });

    it('is only a command at a statement start: inside a statement its line is text', () => {
      // The line after an unfinished statement is part of it, and the client adds no line end after it.
      expect(texts('SELECT 1\nDELIMITER $$\n;')).to.deep.equal(['SELECT 1\nDELIMITER $$']);
      expect(texts("SELECT '\ndelimiter $$\n';\nSELECT 2;")).to.deep.equal(["SELECT '\ndelimiter $$\n'", 'SELECT 2']);
    });

    it('refuses DELIMITER after a statement on the same line, which the client would glue to the next lines', () => {
      const err = splitError('SELECT 1; DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;\n');
      expect([err.line, err.column]).to.deep.equal([1, 11]);
      expect(err.message).to.match(/^1:11: DELIMITER must start its own line/);
    });

    it('refuses a DELIMITER without argument, with a backslash, or longer than the client keeps', () => {
      expect(splitError('DELIMITER\nSELECT 1;').message).to.equal('1:1: DELIMITER must be followed by a delimiter string');
      expect(splitError('SELECT 1;\n  DELIMITER \\\\\n').message).to.match(/^2:3: a DELIMITER cannot contain a backslash/);
      expect(splitError(`DELIMITER ${'x'.repeat(16)}`).message).to.match(/^1:1: DELIMITER "x{16}" is longer than the client's 15 bytes/);
    });

    it('matches the delimiter before anything else, even inside words (as the client does)', () => {
      expect(texts('DELIMITER GO\nSELECT 1 AS GOAL GO')).to.deep.equal(['SELECT 1 AS', 'AL']);
    });
  });

  describe('comments', () => {
    it('strips -- comments only when a blank or the line end follows the dashes', () => {
      expect(texts('SELECT 1 -- one; two\n, 2 --\t\n, 3 --\n;')).to.deep.equal(['SELECT 1 \n, 2 \n, 3']);
      expect(texts('SELECT 5--2;')).to.deep.equal(['SELECT 5--2']);
      // A control character is no blank to the client, though the server would end the token there.
      expect(texts('SELECT 1 --\x01x;')).to.deep.equal(['SELECT 1 --\x01x']);
    });

    it('treats "--" at a statement start as a comment for MariaDB only', () => {
      expect(texts('--x comment\nSELECT 1;', MARIADB)).to.deep.equal(['SELECT 1']);
      expect(texts('--x comment\nSELECT 1;')).to.deep.equal(['--x comment\nSELECT 1']);
    });

    it('strips # comments', () => {
      expect(texts('#!header\nSELECT 1 # one; two\n, 2;')).to.deep.equal(['SELECT 1 \n, 2']);
    });

    it('strips /* */ comments, with a blank where the comment touched the next token', () => {
      expect(texts('SELECT 1/*c*/+2;\nSELECT 3 /*a;b*/ +4;\nSELECT 5/*\nmulti; line*/+6;')).to.deep.equal([
        'SELECT 1 +2', 'SELECT 3  +4', 'SELECT 5 +6',
      ]);
    });

    it('keeps /*!NNNNN */ executable comments, which the client still splits at the delimiter', () => {
      expect(texts('CREATE TABLE t (a INT) /*!50100 ENGINE=InnoDB */;\n/*!40101 SET NAMES utf8mb4 */;')).to.deep.equal([
        'CREATE TABLE t (a INT) /*!50100 ENGINE=InnoDB */', '/*!40101 SET NAMES utf8mb4 */',
      ]);
      expect(texts('SELECT 2 /*!50003 ; */ AS b;')).to.deep.equal(['SELECT 2 /*!50003', '*/ AS b']);
    });

    it('keeps /*+ */ optimizer hints whole for MySQL, and strips them like any comment for MariaDB', () => {
      const sql = 'SELECT /*+ MAX_EXECUTION_TIME(1000) ; */ 1;';
      expect(texts(sql)).to.deep.equal(['SELECT /*+ MAX_EXECUTION_TIME(1000) ; */ 1']);
      expect(texts(sql, MARIADB)).to.deep.equal(['SELECT  1']);
    });

    it('keeps /*M! */ comments for MariaDB, which executes them, and strips them for MySQL', () => {
      expect(texts('SELECT 4 /*M!100000 + 1 */ AS d;', MARIADB)).to.deep.equal(['SELECT 4 /*M!100000 + 1 */ AS d']);
      expect(texts('SELECT 4 /*M!100000 + 1 */ AS d;')).to.deep.equal(['SELECT 4  AS d']);
    });

    it('keeps comments when the client does (recent MySQL), with a comment after the delimiter going to the statement before', () => {
      const sql = '-- header\n/* block */\nSELECT 1 AS a; -- trailing\nSELECT 2/*x*/+1 # tail\n;';
      expect(texts(sql, MYSQL_9)).to.deep.equal(['/* block */\nSELECT 1 AS a -- trailing', 'SELECT 2/*x*/ +1 # tail']);
      const [first] = splitSql(sql, MYSQL_9);
      expect(where(first)).to.deep.equal([3, 1]);
      expect(first.firstLine).to.equal('SELECT 1 AS a -- trailing');
    });

    it('drops statements made of comments only', () => {
      expect(texts('-- a\n# b\n/* c */;\nSELECT 1;\n/* d */', MYSQL_9)).to.deep.equal(['SELECT 1']);
    });

    it('lets DELIMITER follow comments when comments are kept, except after a header MySQL 9 cannot skip', () => {
      expect(texts('/* header */\nDELIMITER $$\nSELECT 1$$', MYSQL_9)).to.deep.equal(['SELECT 1']);
      // The MySQL 9 client skips a comment only up to its first '*' or '/': this DELIMITER line stays text
      // (and its $$ opens a dollar quote), which the server then rejects.
      const glued = '/** docs */\nDELIMITER $$\nSELECT 1$$\nDELIMITER ;\nSELECT 2;';
      expect(texts(glued, MYSQL_9)).to.deep.equal(['/** docs */\nDELIMITER $$\nSELECT 1$$\nDELIMITER', 'SELECT 2']);
      expect(texts(glued)).to.deep.equal(['SELECT 1', 'SELECT 2']);
    });
  });

  describe('quotes', () => {
    it('does not split inside strings or backticked identifiers', () => {
      expect(texts("SELECT 'a;b', \"c;d\", `e;f`;\nSELECT '-- no', \"# no\", '/* no */', `--no`;")).to.deep.equal([
        "SELECT 'a;b', \"c;d\", `e;f`", "SELECT '-- no', \"# no\", '/* no */', `--no`",
      ]);
    });

    it('handles doubled quotes and backslash escapes in strings', () => {
      expect(texts("SELECT 'it''s;', 'a\\';b', \"say \"\"hi\"\";\", \"q\\\";\", 'b\\\\';SELECT 2;")).to.deep.equal([
        "SELECT 'it''s;', 'a\\';b', \"say \"\"hi\"\";\", \"q\\\";\", 'b\\\\'", 'SELECT 2',
      ]);
    });

    it('escapes backticks only by doubling them: a backslash in an identifier is a plain character', () => {
      for (const options of [MARIADB, MYSQL_9]) {
        expect(texts('SELECT `a``b;c`, `d\\`;SELECT 2;', options)).to.deep.equal(['SELECT `a``b;c`, `d\\`', 'SELECT 2']);
      }
    });

    it('keeps a delimiter or $$ inside strings while DELIMITER $$ is in force', () => {
      expect(texts("DELIMITER $$\nSELECT '$$', 'END$$;'$$\nSELECT \"$$\"$$")).to.deep.equal(["SELECT '$$', 'END$$;'", 'SELECT "$$"']);
    });

    it('keeps line ends inside strings, and drops a backslash that ends a line (as the client does)', () => {
      expect(texts("SELECT 'multi\nline;';")).to.deep.equal(["SELECT 'multi\nline;'"]);
      expect(texts("SELECT 'a\\\nb';")).to.deep.equal(["SELECT 'a\nb'"]);
    });

    it('reads $$ and $tag$ as quotes only where the client does (MySQL 9 on a server that parses them)', () => {
      const sql = 'SELECT $$a;b$$;\nSELECT $t1$x;y$t1$;\nSELECT 1 AS a$$b;\nSELECT 2;';
      expect(texts(sql, MYSQL_9)).to.deep.equal(['SELECT $$a;b$$', 'SELECT $t1$x;y$t1$', 'SELECT 1 AS a$$b', 'SELECT 2']);
      expect(texts(sql)).to.deep.equal(['SELECT $$a', 'b$$', 'SELECT $t1$x', 'y$t1$', 'SELECT 1 AS a$$b', 'SELECT 2']);
    });

    it('reports an unterminated quote or comment where it opened', () => {
      const cases: [string, string, SplitOptions?][] = [
        ["SELECT 1;\nSELECT 'abc;\n", "2:8: unterminated ' quoted string at end of file"],
        ['SELECT "abc', '1:8: unterminated " quoted string at end of file'],
        ['SELECT `abc', '1:8: unterminated ` quoted identifier at end of file'],
        ['SELECT 1; /* open\n comment', '1:11: unterminated /* comment at end of file'],
        ['SELECT 1 /*!50003 + 1\n', '1:10: unterminated executable comment at end of file'],
        ['SELECT $$ abc;', '1:8: unterminated dollar-quoted string $$ at end of file', MYSQL_9],
      ];
      for (const [sql, message, options] of cases) expect(splitError(sql, options).message).to.equal(message);
    });
  });

  describe('line ends and encodings', () => {
    it('reads CRLF files as the client does: LF only, inside strings too', () => {
      const statements = splitSql("SELECT 1;\r\nDELIMITER $$\r\nSELECT 'a\r\nb'$$\r\nDELIMITER ;\r\nSELECT 3\r\n");
      expect(statements.map((s) => s.text)).to.deep.equal(['SELECT 1', "SELECT 'a\nb'", 'SELECT 3']);
      expect(statements.map(where)).to.deep.equal([[1, 1], [3, 1], [6, 1]]);
    });

    it('keeps a lone CR, which is no line end to the client', () => {
      expect(texts("SELECT 'a\rb';")).to.deep.equal(["SELECT 'a\rb'"]);
    });

    it('ignores a byte order mark and keeps unicode text as is', () => {
      const [statement] = splitSql('\uFEFFSELECT `städte`, \'東京;🗼\' -- 挨拶\n;');
      expect(statement.text).to.equal("SELECT `städte`, '東京;🗼'");
      expect(where(statement)).to.deep.equal([1, 1]);
    });

    it('refuses NUL characters', () => {
      expect(splitError("SELECT 1;\nSELECT '\0';").message).to.match(/^2:9: NUL character/);
    });
  });

  describe('client commands', () => {
    it('refuses client commands other than DELIMITER, naming the line', () => {
      expect(splitError('SELECT 1;\nsource other.sql;\n').message).to.match(/^2:1: the client command "source" is not supported/);
      expect(splitError('SELECT 1;\n\\. other.sql\n').message).to.match(/^2:1: the client command "\\\." is not supported/);
      expect(splitError('SELECT 1;\nSELECT 2\\G\n').message).to.match(/^2:9: the client command "\\G" is not supported/);
      expect(splitError('status;').message).to.match(/^1:1: the client command "status" is not supported/);
      expect(splitError('SELECT 1;\n  status\n', MARIADB).message).to.match(/^2:3: the client command "status" is not supported/);
    });

    it('sends USE as the SQL statement it is', () => {
      expect(texts('use reminderly;\nSELECT 1;')).to.deep.equal(['use reminderly', 'SELECT 1']);
      // MariaDB's client runs "use db" at a line start even without a delimiter.
      expect(texts('use reminderly\nSELECT 1;', MARIADB)).to.deep.equal(['use reminderly', 'SELECT 1']);
      expect(splitError('use;').message).to.match(/"use" is not supported/);
    });

    it('keeps \\N, which the client passes on, and words that merely start like a command', () => {
      expect(texts('SELECT \\N;\nSELECT 1 AS statusx;\nSELECT 2 AS `go`;')).to.deep.equal(['SELECT \\N', 'SELECT 1 AS statusx', 'SELECT 2 AS `go`']);
    });
  });

  describe('bytes, sandbox mode and SOURCE', () => {
    const SANDBOX = '/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\nSELECT 1;\n';
    /** Files SOURCE may name, in memory: this is the splitter alone, the runner reads real files. */
    const files = (contents: Record<string, string>) => (name: string): SourcedFile => {
      if (!(name in contents)) throw new Error('no such file');
      return { file: name, key: name, bytes: Buffer.from(contents[name]) };
    };

    it('keeps every byte of a file that is not UTF-8, and counts columns in UTF-8 characters', () => {
      const bytes = Buffer.concat([Buffer.from("SELECT 'caf"), Buffer.from([0xe9, 0x5c, 0x27, 0xff]), Buffer.from("';\n  SELECT 'é', 2;")]);
      const statements = splitSqlBytes(bytes, MARIADB);
      expect(statements.map((s) => s.bytes!.toString('hex'))).to.deep.equal([
        Buffer.concat([Buffer.from("SELECT 'caf"), Buffer.from([0xe9, 0x5c, 0x27, 0xff]), Buffer.from("'")]).toString('hex'),
        Buffer.from("SELECT 'é', 2").toString('hex'),
      ]);
      expect(statements[1].text).to.equal("SELECT 'é', 2");
      expect(where(statements[1])).to.deep.equal([2, 3]);
      expect(() => splitSqlBytes(Buffer.from('SELECT 1; -- ü\nSELECT `ü`, \\G;'), MARIADB)).to.throw(SqlSplitError, /^2:13: the client command "\\G"/);
    });

    it('reads a file in pieces cut after line ends exactly as in one piece (dumps can exceed the longest string)', () => {
      const bytes = Buffer.from("SELECT 'a\nb;c';\nDELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;\r\nINSERT INTO t VALUES\n(1,'x'),\n(2,'y');\nSELECT 3");
      const whole = splitSqlBytes(bytes, MARIADB).map((s) => [s.text, s.line, s.column]);
      expect(whole).to.have.length(4);
      for (const pieceBytes of [1, 2, 7, 16]) expect(splitSqlBytes(bytes, { ...MARIADB, pieceBytes }).map((s) => [s.text, s.line, s.column]), `${pieceBytes}`).to.deep.equal(whole);
    });

    it('takes MariaDB\'s sandbox-mode line as the mariadb client does, and as a comment under MySQL', () => {
      expect(splitSqlBytes(Buffer.from(SANDBOX), MARIADB).map((s) => s.text))
        .to.deep.equal(['/*M!999999 enable the sandbox mode */ \n\n/*!40101 SET NAMES utf8mb4 */', 'SELECT 1']);
      expect(splitSqlBytes(Buffer.from(SANDBOX), MYSQL_9).map((s) => s.text)).to.deep.equal([
        '/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n/*!40101 SET NAMES utf8mb4 */', 'SELECT 1']);
    });

    it('runs SOURCE and \\. for MariaDB: the named file\'s statements in place, the delimiter shared, errors naming that file', () => {
      const openSource = files({
        'a.sql': 'SELECT 2;\nDELIMITER //\n',
        'b.sql': "SELECT 'b';\nsource a.sql\n",
        'broken.sql': 'SELECT 1;\nSELECT "open\n',
      });
      const statements = splitSqlBytes(Buffer.from('SELECT 1;\nsource b.sql;\nSELECT 3//\nDELIMITER ;\n\\. a.sql\nSELECT 4//\n'), { ...MARIADB, file: 'top.sql', openSource });
      expect(statements.map((s) => [s.text, s.file ?? 'top.sql', s.line])).to.deep.equal([
        ['SELECT 1', 'top.sql', 1], ["SELECT 'b'", 'b.sql', 1], ['SELECT 2', 'a.sql', 1], ['SELECT 3', 'top.sql', 3], ['SELECT 2', 'a.sql', 1], ['SELECT 4', 'top.sql', 6],
      ]);
      const broken = (() => { try { splitSqlBytes(Buffer.from('SELECT 0;\nsource broken.sql\n'), { ...MARIADB, file: 'top.sql', openSource }); } catch (e) { return e as SqlSplitError; } })();
      expect(broken?.message).to.equal('broken.sql:2:8: unterminated " quoted string at end of file');
    });

    it('refuses SOURCE after the sandbox line, for MySQL (whose client does not run it in batch mode), and without a file name', () => {
      const openSource = files({ 'a.sql': 'SELECT 2;' });
      const error = (sql: string, options: SplitOptions) => {
        try {
          splitSqlBytes(Buffer.from(sql), { ...options, openSource });
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      };
      expect(error(`${SANDBOX}source a.sql\n`, MARIADB)).to.equal('5:1: SOURCE is not allowed after the sandbox-mode line (\\-): the client refuses it too');
      expect(error('SELECT 1;\nsource a.sql;\n', MYSQL_9)).to.match(/^2:1: the client command "source" is not supported/);
      expect(error('SELECT 1;\n\\. a.sql\n', MYSQL_9)).to.match(/^2:1: the client command "\\\." is not supported/);
      expect(error('source\n', MARIADB)).to.equal('1:1: SOURCE must be followed by a file name');
    });
  });

  describe('client quirks kept on purpose', () => {
    it('adds no line end after a line that starts with "delimiter", inside a statement too', () => {
      expect(texts('SELECT 1 AS\ndelimiter_x,\n2 AS y;')).to.deep.equal(['SELECT 1 AS\ndelimiter_x,2 AS y']);
    });

    it('gives a dollar tag right after a comment the blank before its last character', () => {
      expect(texts('SELECT /*c*/$a$x;y$a$;', MYSQL_9)).to.deep.equal(['SELECT /*c*/$a $x;y$a$']);
    });
  });

  describe('clientDialectFor', () => {
    it('copies the client that ships with the server', () => {
      expect(clientDialectFor(describeServer('10.11.19-MariaDB', false), false)).to.deep.equal({ client: 'mariadb', keepComments: false, dollarQuotes: false });
      expect(clientDialectFor(describeServer('8.0.40', false), false)).to.deep.equal({ client: 'mysql', keepComments: false, dollarQuotes: false });
      expect(clientDialectFor(describeServer('8.4.3', false), false)).to.deep.equal({ client: 'mysql', keepComments: true, dollarQuotes: false });
      expect(clientDialectFor(describeServer('9.7.4', false), true)).to.deep.equal({ client: 'mysql', keepComments: true, dollarQuotes: true });
    });
  });
});
