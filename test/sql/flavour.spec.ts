// The server adapter against the live server of this leg: each capability detectServer reports is
// checked against what the server (and the tools on PATH) actually do, so a wrong entry in
// tools/sql/flavour.ts fails here on the server it is wrong for.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { normaliseFor } from '../../tools/plans/explain';
import { findClient, findOnPath, runWithClient } from '../../tools/sql/client';
import { Connection, connect, queryRows } from '../../tools/sql/connection';
import { detectServer, flavourCapabilities, parseServerVersion, SERVER_FLAVOURS, ServerInfo } from '../../tools/sql/flavour';
import { rejection } from '../helpers/rejection';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

describe('server adapter (tools/sql/flavour.ts) on the server under test', function () {
  this.timeout(60_000);
  const db = useThrowawayDatabase({ label: 'flavour' });
  let conn: Connection;
  let server: ServerInfo;

  before(async () => {
    conn = await connect(db.url);
    server = await detectServer(conn);
  });

  after(async () => {
    await conn?.end();
  });

  it('detects the flavour and version that SELECT VERSION() reports', async () => {
    const [row] = await queryRows<{ v: string }>(conn, 'SELECT VERSION() AS v');
    expect(server.versionComment).to.equal(row.v);
    expect(row.v.startsWith(`${server.version}`), `${row.v} starts with ${server.version}`).to.equal(true);
    expect(server.version).to.match(/^\d+\.\d+\.\d+$/);
    expect(server.version.split('.').slice(0, 2).map(Number)).to.deep.equal([server.major, server.minor]);
    expect(server.flavour).to.equal(/MariaDB/.test(row.v) ? 'mariadb' : 'mysql');
    expect(SERVER_FLAVOURS).to.include(server.flavour);
    expect(server).to.include(flavourCapabilities(server.flavour));
  });

  it('names the isolation variable this server has: it reads and follows the session level', async () => {
    const variable = server.isolationVariable;
    const [before] = await queryRows<{ v: string }>(conn, `SELECT @@SESSION.${variable} AS v`);
    expect(before.v).to.match(/^(READ-UNCOMMITTED|READ-COMMITTED|REPEATABLE-READ|SERIALIZABLE)$/);
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE');
    try {
      const [after] = await queryRows<{ v: string }>(conn, `SELECT @@SESSION.${variable} AS v`);
      expect(after.v).to.equal('SERIALIZABLE');
    } finally {
      await conn.query(`SET SESSION TRANSACTION ISOLATION LEVEL ${before.v.replace('-', ' ')}`);
    }
  });

  it('finds the client matching the server, of the same flavour, and it talks to the server', async () => {
    const client = findClient(server);
    expect(client, JSON.stringify(client)).to.have.property('command', server.clientCommand);
    if ('error' in client) return;
    expect(parseServerVersion(client.version).flavour, client.version).to.equal(server.flavour);
    const result = await runWithClient(db.url, 'SELECT VERSION() AS v, DATABASE() AS db;', { server });
    expect(result.command).to.equal(server.clientCommand);
    expect(result.stdout).to.equal(`v\tdb\n${server.versionComment}\t${db.name}\n`);
  });

  it('names a dump tool on PATH of the same flavour', () => {
    expect(findOnPath(server.dumpCommand), `${server.dumpCommand} on PATH`).to.be.a('string');
    const version = spawnSync(server.dumpCommand, ['--version'], { encoding: 'utf8' });
    expect(version.status, version.stderr).to.equal(0);
    expect(parseServerVersion(version.stdout).flavour, version.stdout).to.equal(server.flavour);
  });

  it('says whether CREATE OR REPLACE PROCEDURE exists (routineReplace)', async () => {
    await conn.query('CREATE PROCEDURE flavour_probe() SELECT 1 AS v');
    const replace = conn.query('CREATE OR REPLACE PROCEDURE flavour_probe() SELECT 2 AS v');
    if (server.routineReplace === 'create-or-replace') {
      await replace;
    } else {
      expect(await rejection(replace)).to.have.property('code', 'ER_PARSE_ERROR');
    }
    const [results] = await conn.query('CALL flavour_probe()');
    const [[row]] = results as [{ v: number }[]];
    expect(Number(row.v)).to.equal(server.routineReplace === 'create-or-replace' ? 2 : 1);
  });

  it('names a password plugin the server has active (users with identifiedByPassword: test/users)', async () => {
    const [plugin] = await queryRows<{ status: string }>(conn,
      'SELECT PLUGIN_STATUS AS status FROM information_schema.PLUGINS WHERE PLUGIN_NAME = ?', [server.passwordPlugin]);
    expect(plugin?.status, `${server.passwordPlugin} in information_schema.PLUGINS`).to.equal('ACTIVE');
  });

  it('captures statements where the server offers them (statementCapture)', async () => {
    // MariaDB's slow log can include stored-program statements; MySQL's optimizer trace holds them.
    const variable = server.statementCapture === 'slow-log' ? 'log_slow_disabled_statements' : 'optimizer_trace';
    const rows = await queryRows<{ Variable_name: string }>(conn, 'SHOW SESSION VARIABLES LIKE ?', [variable]);
    expect(rows.map((r) => r.Variable_name)).to.deep.equal([variable]);
  });

  it('reads the EXPLAIN FORMAT=JSON document the server writes after explainSessionSettings', async () => {
    await conn.query('CREATE TABLE flavour_explain (id INT PRIMARY KEY, v INT)');
    await conn.query('INSERT INTO flavour_explain VALUES (1, 10), (2, 20), (3, 30)');
    for (const setting of server.explainSessionSettings) await conn.query(setting);
    const [row] = await queryRows<Record<string, string>>(conn, 'EXPLAIN FORMAT=JSON SELECT v FROM flavour_explain WHERE id = 1');
    const rows = normaliseFor(server, JSON.parse(Object.values(row)[0]));
    expect(rows.map((r) => [r.name, r.access])).to.deep.equal([['flavour_explain', 'const']]);
  });

  it('reports local_infile as the server has it', async () => {
    const [row] = await queryRows<{ v: number | string }>(conn, 'SELECT @@GLOBAL.local_infile AS v');
    expect(server.localInfile).to.equal(Number(row.v) === 1);
  });
});
