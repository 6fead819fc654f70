// `reminderly-db sql run` as a DBA or CI runs it: exit 0 when applied, 1 for the user's mistake
// (missing file, bad URL, a file the client would misread), 2 when the server rejects the SQL;
// always one line on stderr, never a stack trace.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { expect } from 'chai';
import { queryRows, withConnection, withDatabase } from '../../tools/sql/connection';
import { CliResult, runCli } from '../helpers/cli';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

function expectOneLineError(result: CliResult, code: number, message: RegExp): void {
  expect(result.code, result.stderr).to.equal(code);
  expect(result.stderr).not.to.match(/^\s+at /m);
  expect(result.stderr.trim().split('\n')).to.have.length(1);
  expect(result.stderr.trim()).to.match(message);
}

describe('reminderly-db sql run', function () {
  this.timeout(120_000);
  const db = useThrowawayDatabase({ label: 'sqlcli' });
  let dir: string;

  const write = (name: string, content: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };
  const tables = () => withConnection(db.url, async (conn) =>
    (await queryRows<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME'))
      .map((r) => r.name));

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-sql-cli-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the files in order and prints one line per file (exit 0)', async () => {
    const first = write('first.sql', 'CREATE TABLE cli_a (id INT PRIMARY KEY);\nINSERT INTO cli_a VALUES (1);\n');
    const second = write('second.sql', [
      'DELIMITER $$',
      'CREATE PROCEDURE cli_fill() BEGIN INSERT INTO cli_a VALUES (2); END$$',
      'DELIMITER ;',
      'CALL cli_fill();',
    ].join('\n'));
    const result = runCli(['sql', 'run', first, second, '--url', db.url, '--default-character-set', 'utf8mb4']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('session character set utf8mb4 (asked for with --default-character-set)\n'
      + `applied ${first}: 2 statements\napplied ${second}: 2 statements\n`);
    expect(await withConnection(db.url, (conn) => queryRows(conn, 'SELECT id FROM cli_a ORDER BY id'))).to.deep.equal([{ id: 1 }, { id: 2 }]);
  });

  it('takes the URL from MYSQL_URL when --url is not given', async () => {
    const file = write('env.sql', 'CREATE TABLE cli_env (id INT)');
    const result = runCli(['sql', 'run', file], { MYSQL_URL: db.url });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.match(new RegExp(`^session character set \\w+ \\(the (mysql|mariadb) client's default .*\\)\napplied ${file}: 1 statement\n$`));
    expect(await tables()).to.include('cli_env');
  });

  it('exits 2 with the failing statement\'s one-line reason when the server rejects it', async () => {
    const file = write('fails.sql', 'CREATE TABLE cli_b (id INT);\n\nINSERT INTO cli_missing\n  VALUES (1);\nCREATE TABLE cli_c (id INT);\n');
    const result = runCli(['sql', 'run', file, '--url', db.url]);
    expectOneLineError(result, 2, new RegExp(`^reminderly-db: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:1: ` +
      'statement 2 \\("INSERT INTO cli_missing"\\) failed: ER_NO_SUCH_TABLE \\(1146\\): Table .*cli_missing\' doesn\'t exist$'));
    expect(await tables()).to.include('cli_b').and.not.include('cli_c');
  });

  it('exits 1 for a missing file, before running any file', async () => {
    const good = write('good.sql', 'CREATE TABLE cli_not_run (id INT);');
    const result = runCli(['sql', 'run', good, path.join(dir, 'missing.sql'), '--url', db.url]);
    expectOneLineError(result, 1, /^reminderly-db: cannot read .*missing\.sql: no such file$/);
    expect(result.stdout).to.equal('');
    expect(await tables()).not.to.include('cli_not_run');
  });

  it('exits 1 for a file the client would misread, before running any file', async () => {
    const good = write('good2.sql', 'CREATE TABLE cli_not_run2 (id INT);');
    const bad = write('bad.sql', 'SELECT 1;\nSELECT 2\\G\n');
    const result = runCli(['sql', 'run', good, bad, '--url', db.url]);
    expectOneLineError(result, 1, /^reminderly-db: .*bad\.sql:2:9: the client command "\\G" is not supported/);
    expect(await tables()).not.to.include('cli_not_run2');
  });

  it('starts the session in the client\'s default character set for the locale, and says which', async () => {
    const file = write('locale.sql', 'CREATE TABLE cli_locale AS SELECT @@character_set_client AS cs;');
    const result = runCli(['sql', 'run', file, '--url', db.url], { LC_ALL: 'C' });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout.split('\n')[0]).to.match(/^session character set latin1 \(the (mysql|mariadb) client's default for the locale's codeset ANSI_X3\.4-1968\)$/);
    const [row] = await withConnection(db.url, (conn) => queryRows<{ cs: string }>(conn, 'SELECT cs FROM cli_locale'));
    expect(row.cs).to.equal('latin1');
  });

  it('exits 1 for a character set the server does not know, before running anything', async () => {
    const file = write('unknown-charset.sql', 'CREATE TABLE cli_not_run3 (id INT);');
    expectOneLineError(runCli(['sql', 'run', file, '--url', db.url, '--default-character-set', 'klingon']), 1, /^reminderly-db: unknown character set "klingon"/);
    expect(await tables()).not.to.include('cli_not_run3');
  });

  it('exits 1 for a URL without a database, or one that is not a URL', () => {
    const file = write('any.sql', 'SELECT 1;');
    expectOneLineError(runCli(['sql', 'run', file, '--url', withDatabase(db.url, null)]), 1, /^reminderly-db: the URL must name a database: /);
    expectOneLineError(runCli(['sql', 'run', file, '--url', 'not a url']), 1, /^reminderly-db: not a database URL: "not a url"/);
  });

  it('explains itself with --help', () => {
    const result = runCli(['sql', 'run', '--help']);
    expect(result.code).to.equal(0);
    expect(result.stdout).to.match(/^Usage: reminderly-db sql run \[options\] <file\.\.\.>/);
    expect(result.stdout).to.match(/--url <url>/);
  });
});
