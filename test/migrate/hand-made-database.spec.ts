// Acceptance for the databases DBAs really have: a database created by hand, with the server's default collation,
// taken through the CLI as a DBA would (migrate up, validate, campaign create, messages load,
// campaign retire) and through an application's worker on a mysql2 connection with default
// options, claiming and completing through the generated bindings.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import mysql from 'mysql2/promise';
import os from 'os';
import path from 'path';
import { markPacketReady } from '../../bindings';
import { testServerUrl, throwawayName } from '../../tools/harness/database';
import { Connection, connect, parseUrl, queryRows, quoteIdentifier, withConnection, withDatabase } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { runWorker, simulatedSender } from '../../tools/pipeline/worker';
import { clientFor, Company, seedCompany, tableName } from '../pipeline/helpers';
import { runCli } from '../helpers/cli';

/** Runs one statement through the server's command-line client, with its default options. */
function clientStatement(client: string, serverUrl: string, sql: string): void {
  const u = parseUrl(serverUrl);
  const args = ['--protocol=TCP', '-h', u.host, '-P', String(u.port), '-u', u.user, ...(u.password ? [`-p${u.password}`] : []), '-e', sql];
  const result = spawnSync(client, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${client} -e "${sql}": ${result.stderr || result.stdout}`);
}

describe('a database created by hand with the server\'s default collation', function () {
  this.timeout(600_000);
  const serverUrl = testServerUrl();
  const name = throwawayName('byhand');
  const url = withDatabase(serverUrl, name);
  let conn: Connection;
  let company: Company;
  let out: string;
  before(async () => {
    const server = await withConnection(serverUrl, detectServer, { database: null });
    clientStatement(clientFor(server.flavour), serverUrl, `CREATE DATABASE ${quoteIdentifier(name)}`);
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-byhand-'));
  });
  after(async () => {
    await conn?.end();
    await withConnection(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`), { database: null });
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it('migrate up, campaign create, messages load, mark ready, a worker on a default mysql2 connection and retire all succeed', async () => {
    const up = runCli(['migrate', 'up', '--url', url]);
    expect(up.code, up.stderr).to.equal(0);
    expect(runCli(['migrate', 'validate', '--url', url]).code).to.equal(0);
    conn = await connect(url);
    const [{ server, database }] = await queryRows<{ server: string; database: string }>(conn,
      'SELECT @@global.collation_server AS server, DEFAULT_COLLATION_NAME AS `database` FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()');
    expect(database, 'the database kept the server default it was created with').to.equal(server);

    company = await seedCompany(conn, 30);
    const [campaign] = await conn.query(
      "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, 'Frühjahr', id, 'active' FROM run_types WHERE code = 'immediate'",
      [company.companyId]) as unknown as [{ insertId: number }];
    const id = Number(campaign.insertId);
    const create = runCli(['campaign', 'create', String(id), '--url', url]);
    expect(create.code, create.stderr).to.equal(0);
    expect(create.stderr).to.equal('');

    const csv = path.join(out, 'messages.csv');
    const rows = company.contactIds.map((c, i) => `${c},email,1,,Erinnerung ✓,Termin ${i} 予約`);
    fs.writeFileSync(csv, ['contact_id,method,packet,send_after,subject,body', ...rows].join('\n') + '\n');
    const load = runCli(['messages', 'load', '--campaign', String(id), csv, '--url', url]);
    expect(load.code, load.stderr).to.equal(0);
    const [{ n: loaded }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${await tableName(conn, id, 'messages')}\``);
    expect(Number(loaded)).to.equal(30);

    // The application: mysql2 with default options (no charset, no time zone), calling through bindings/.
    const u = parseUrl(url);
    const app = await mysql.createConnection({ host: u.host, port: u.port, user: u.user, password: u.password, database: name });
    try {
      const marked = await markPacketReady(app, { userId: company.allowedUser, campaignId: id, packet: 1 });
      expect(marked.marked[0]).to.include({ marked: 30, immediate: 30, scheduled: 0 });
      const stats = await runWorker(app, { campaignId: id, runType: 'immediate', worker: 'wörker', batchSize: 7, send: simulatedSender(0) });
      expect(stats).to.include({ batches: 5, messages: 30 });
      expect(stats.byStatus).to.deep.equal({ sent: 30 });
    } finally {
      await app.end();
    }
    const statuses = await queryRows<{ code: string; n: number }>(conn,
      `SELECT s.code, COUNT(*) AS n FROM \`${await tableName(conn, id, 'message_contact_status')}\` c JOIN contact_statuses s ON s.id = c.status_id GROUP BY s.code`);
    expect(statuses.map((r) => [r.code, Number(r.n)])).to.deep.equal([['sent', 30]]);
    const [{ n: queued }] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${await tableName(conn, id, 'ready_queue')}\``);
    expect(Number(queued)).to.equal(0);
    const [{ n: batches }] = await queryRows<{ n: number }>(conn,
      "SELECT COUNT(*) AS n FROM batches WHERE campaign_id = ? AND worker = 'wörker' AND completed_at IS NOT NULL", [id]);
    expect(Number(batches)).to.equal(5);

    // Sent is not final: retire refuses without --force, names the count, and retires with it.
    const refused = runCli(['campaign', 'retire', String(id), '--out', out, '--url', url]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain(`campaign ${id} has 30 unfinished message(s)`);
    const retire = runCli(['campaign', 'retire', String(id), '--out', out, '--force', '--url', url]);
    expect(retire.code, retire.stderr).to.equal(0);
    const [{ state }] = await queryRows<{ state: string }>(conn, 'SELECT state FROM campaign_sets WHERE campaign_id = ?', [id]);
    expect(state).to.equal('retired');
  });
});
