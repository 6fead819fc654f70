// The real command-line client matching the server, driven through runWithClient().
import { expect } from 'chai';
import { UserError } from '../../tools/errors';
import { withConnection, withDatabase } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { ClientFailedError, findOnPath, runWithClient } from '../../tools/sql/client';
import { rejection } from '../helpers/rejection';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('sql client', function () {
  this.timeout(60_000);
  const db = useThrowawayDatabase({ label: 'sqlclient' });
  let server: ServerInfo;

  before(async () => {
    server = await withConnection(db.url, detectServer);
  });

  it('finds the client matching the server on PATH', () => {
    expect(findOnPath(server.clientCommand), `${server.clientCommand} on PATH`).to.be.a('string');
  });

  it('pipes SQL into the client in the URL\'s database, in batch mode, and returns its output', async () => {
    const result = await runWithClient(db.url, "CREATE TABLE t (v VARCHAR(10));\nINSERT INTO t VALUES ('a;b'), ('é');\nSELECT DATABASE() AS db, COUNT(*) AS n FROM t;\nSELECT v FROM t ORDER BY v;\n");
    expect(result.command).to.equal(server.clientCommand);
    expect(result.stdout).to.equal(`db\tn\n${db.name}\t2\nv\na;b\né\n`);
  });

  it('runs without a database when asked to', async () => {
    const result = await runWithClient(db.url, 'SELECT DATABASE() AS db;', { database: null });
    expect(result.stdout).to.equal('db\nNULL\n');
  });

  it('rejects with the client\'s stderr when it exits non-zero', async () => {
    const err = await rejection(runWithClient(db.url, 'SELECT 1;\nSELECT * FROM no_such_table;\n')) as ClientFailedError;
    expect(err).to.be.instanceOf(ClientFailedError);
    expect(err.status).to.equal(1);
    expect(err.stderr).to.match(/ERROR 1146 \(42S02\) at line 2/);
    expect(err.message).to.match(new RegExp(`^${server.clientCommand} exited with 1: ERROR 1146`));
  });

  it('passes the URL\'s password to the client (through the environment)', async () => {
    // root has no password on the test servers: a wrong one must reach the client and be refused.
    const withPassword = new URL(db.url);
    withPassword.password = 'not-the-password';
    const err = await rejection(runWithClient(withPassword.toString(), 'SELECT 1;', { server })) as ClientFailedError;
    expect(err.stderr).to.match(/Access denied for user .*\(using password: YES\)/);
  });

  it('says which client is missing, as a UserError', async () => {
    const err = await rejection(runWithClient(withDatabase(db.url, db.name), 'SELECT 1;', { server: { ...server, clientCommand: 'reminderly-no-such-client' } }));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.match(/^reminderly-no-such-client not found on PATH: the (mysql|mariadb) [\d.]+ server needs its own client/);
  });
});
