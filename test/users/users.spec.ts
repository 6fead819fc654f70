// The least-privilege users on a real server: created by `users apply`, then each logs in with
// mysql2 and shows what it can and cannot do. Users are server-wide, so every name here is unique
// to this run and every account is dropped afterwards, also when a test fails.
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { connect, Connection, queryRows } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { migrateUp } from '../../tools/migrate/migrator';
import { applyUsers } from '../../tools/users/apply';
import { accountsFor, Purpose } from '../../tools/users/accounts';
import { claimBatch, completeBatch } from '../helpers/routine-calls';
import { createCampaign, insertMessages, seedCompany, tableName, Company } from '../pipeline/helpers';
import { seedMessages } from '../maintenance/helpers';
import { PROJECT_ROOT, runCli } from '../helpers/cli';
import { dropAccounts, dropStaleAccounts, expectDenied, passwordsFor, uniquePrefix, urlAs } from './helpers';

function expectOneLineError(result: { code: number; stderr: string }, message: RegExp): void {
  expect(result.code, result.stderr).to.equal(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^reminderly-db: /).and.to.match(message);
}

describe('users apply: least-privilege database users', function () {
  this.timeout(300_000);
  let db: ThrowawayDatabase;
  let server: ServerInfo;
  const prefix = uniquePrefix();
  const accounts = accountsFor(prefix);
  const account = (purpose: Purpose) => accounts.find((a) => a.purpose === purpose)!;
  const environment = passwordsFor(accounts);
  const extraUsers: string[] = [];
  let root: Connection;
  const conns: Connection[] = [];
  const loginAs = async (purpose: Purpose) => {
    const conn = await connect(urlAs(db, account(purpose), environment));
    conns.push(conn);
    return conn;
  };
  let company: Company;
  let campaign: number;
  /** A session of company.allowedUser, issued by the auth account. */
  let token: string;
  /** MySQL in CI runs with the binary log on: there the migrator needs SUPER to create functions. */
  let migratorSuper = false;
  const apply = (options: { dryRun?: boolean; migratorSuper?: boolean } = {}) =>
    applyUsers({ url: db.url, prefix, root: PROJECT_ROOT, environment, migratorSuper, ...options });

  before(async () => {
    db = await createThrowawayDatabase('users');
    await dropStaleAccounts(db.serverUrl);
    root = await db.connect();
    server = await detectServer(root);
    const [binlog] = await queryRows<{ on: number; trusted: number }>(root,
      'SELECT @@global.log_bin AS `on`, @@global.log_bin_trust_function_creators AS trusted');
    migratorSuper = Number(binlog.on) === 1 && Number(binlog.trusted) === 0;
    const warned = await apply({ dryRun: true, migratorSuper: false });
    expect(warned.warnings.length, 'a warning exactly when functions need SUPER').to.equal(migratorSuper ? 1 : 0);
    // Users first, then the whole migration as the migrator: its routines are the migrator's.
    const first = await apply();
    expect(first.statements.map((s) => s.shown).join('\n')).to.not.include(environment[account('application').passwordVariable]!);
    const report = await migrateUp({ url: urlAs(db, account('migrator'), environment), quiet: true });
    expect(report.ok, JSON.stringify(report.results.filter((r) => r.outcome === 'failed'))).to.equal(true);
    expect(report.hooks.flatMap((h) => h.lines)).to.include(`routine grants restored: 7 for ${account('application').user}`);
    expect(report.hooks.flatMap((h) => h.lines)).to.include(`routine grants restored: 2 for ${account('reporting').user}`);
    expect(report.hooks.flatMap((h) => h.lines)).to.include(`routine grants restored: 2 for ${account('auth').user}`);
    company = await seedCompany(root, 20);
    campaign = await createCampaign(root, company.companyId);
    await insertMessages(root, campaign, { count: 10, packet: 1, contacts: company.contactIds });
    token = randomBytes(32).toString('hex');
    await (await loginAs('auth')).query('CALL session_issue(?, ?, 3600)', [company.allowedUser, token]);
  });

  after(async () => {
    for (const conn of conns) await conn.end().catch(() => conn.destroy());
    await root?.end().catch(() => root.destroy());
    if (db) {
      await dropAccounts(db.serverUrl, [...accounts.map((a) => a.user), ...extraUsers]);
      await db.drop();
    }
  });

  it('the routines were created by the migrator and run with its rights', async () => {
    const routines = await queryRows<{ definer: string; security: string }>(root,
      'SELECT DEFINER AS definer, SECURITY_TYPE AS security FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?', [db.name]);
    expect(routines.length).to.be.greaterThan(10);
    for (const r of routines) {
      expect(r.definer).to.equal(`${account('migrator').user}@%`);
      expect(r.security).to.equal('DEFINER');
    }
  });

  it('migrator: creates, alters and drops tables', async () => {
    const migrator = await loginAs('migrator');
    await migrator.query('CREATE TABLE users_probe (id INT PRIMARY KEY)');
    await migrator.query('ALTER TABLE users_probe ADD COLUMN note VARCHAR(10) NULL');
    await migrator.query('INSERT INTO users_probe VALUES (1, ?)', ['x']);
    await migrator.query('DROP TABLE users_probe');
    await expectDenied(migrator, 'SELECT * FROM mysql.user');
  });

  it('application: marks ready, claims and completes a batch on a real campaign set through the routines', async () => {
    const app = await loginAs('application');
    await app.query('CALL session_mark_packet_ready(?, ?, ?)', [token, campaign, 1]);
    const claim = await claimBatch(app, { campaignId: campaign, runType: 'immediate', worker: 'users-spec', maxRows: 4, leaseSeconds: 60 });
    expect(claim.messages).to.have.length(4);
    const done = await completeBatch(app, claim.batch!.batchId, claim.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
    expect(done).to.not.equal(undefined);
    await app.query('CALL add_status_update(?, ?, ?, ?, ?, ?)', [campaign, claim.messages[0].messageId, 'email', 'delivered', null, null]);
    const [{ n }] = await queryRows<{ n: number }>(root,
      `SELECT COUNT(*) AS n FROM \`${await tableName(root, campaign, 'status_updates')}\``);
    expect(Number(n)).to.equal(5);
  });

  it('application: cannot read or change a table, drop anything, or call maintenance and set management', async () => {
    const app = await loginAs('application');
    const messages = await tableName(root, campaign, 'messages');
    await expectDenied(app, `SELECT * FROM \`${messages}\``);
    await expectDenied(app, 'SELECT * FROM companies');
    await expectDenied(app, 'SELECT * FROM batches');
    await expectDenied(app, 'UPDATE contacts SET name = name');
    await expectDenied(app, `DROP TABLE \`${messages}\``);
    await expectDenied(app, 'DROP PROCEDURE claim_batch');
    await expectDenied(app, 'CREATE TABLE app_probe (id INT)');
    await expectDenied(app, 'CALL history_move(?, 0, 100, NULL, NULL)', [campaign]);
    await expectDenied(app, 'CALL campaign_set_drop(?)', [campaign]);
    await expectDenied(app, 'CALL campaign_set_create(?, @created)', [campaign]);
    await expectDenied(app, 'CALL campaign_summary(?, ?)', [company.allowedUser, campaign]);
    await expectDenied(app, 'CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 1]);
    await expectDenied(app, 'CALL session_issue(?, ?, 60)', [company.globalUser, randomBytes(32).toString('hex')]);
    await expectDenied(app, 'SELECT * FROM user_sessions');
    const [{ n }] = await queryRows<{ n: number }>(root, 'SELECT COUNT(*) AS n FROM campaign_sets WHERE campaign_id = ?', [campaign]);
    expect(Number(n), 'the set is still there').to.equal(1);
  });

  it('reporting: calls session_campaign_summary and health_campaigns; cannot claim, write or create anything', async () => {
    const reporting = await loginAs('reporting');
    const [sets] = await reporting.query('CALL session_campaign_summary(?, ?)', [token, campaign]) as unknown as [unknown[][]];
    expect(sets[0]).to.be.an('array').that.is.not.empty;
    // health_campaigns fills a session temporary table with the definer's rights: the monitor needs no write grant.
    const [health] = await reporting.query('CALL health_campaigns(?, 15)', [campaign]) as unknown as [Record<string, unknown>[][]];
    expect(health[0].map((r) => Number(r.campaign_id))).to.deep.equal([campaign]);
    await expectDenied(reporting, "CALL claim_batch(?, 'immediate', 'r', 10, 60)", [campaign]);
    await expectDenied(reporting, 'CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 1]);
    await expectDenied(reporting, 'CALL campaign_summary(?, ?)', [company.allowedUser, campaign]);
    await expectDenied(reporting, 'CALL session_issue(?, ?, 60)', [company.globalUser, randomBytes(32).toString('hex')]);
    await expectDenied(reporting, "INSERT INTO companies (name) VALUES ('x')");
    await expectDenied(reporting, 'SELECT * FROM companies');
    await expectDenied(reporting, 'CREATE TABLE reporting_probe (id INT)');
    await expectDenied(reporting, 'CALL history_move(?, 0, 100, NULL, NULL)', [campaign]);
  });

  it('after migrate up re-creates a changed routine, the application user can still call it', async () => {
    const [[{ automatic }]] = await root.query('SELECT @@global.automatic_sp_privileges AS automatic') as unknown as [[{ automatic: number }]];
    expect(Number(automatic), 'the server drops a routine\'s grants with it, so the restore matters').to.equal(1);
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-users-'));
    try {
      for (const dir of ['schema', 'indexes', 'seeds', 'procedures']) fs.cpSync(path.join(PROJECT_ROOT, dir), path.join(copy, dir), { recursive: true });
      fs.appendFileSync(path.join(copy, 'procedures', 'claim_batch.sql'), '-- changed by the users spec\n');
      const report = await migrateUp({ url: urlAs(db, account('migrator'), environment), root: copy, quiet: true });
      expect(report.results.map((r) => `${r.name} ${r.outcome}`)).to.deep.equal(['procedures/claim_batch applied']);
      // 1 where the migrator may read the other accounts' grants, every expected one where it may not
      // (GRANT is idempotent); either way the CALL below must succeed.
      expect(report.hooks.flatMap((h) => h.lines).some((n) => new RegExp(`^routine grants restored: \\d+ for ${account('application').user}$`).test(n)), report.hooks.flatMap((h) => h.lines).join('; ')).to.equal(true);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
    const app = await loginAs('application');
    await app.query('CALL session_mark_packet_ready(?, ?, ?)', [token, campaign, 1]);
    const claim = await claimBatch(app, { campaignId: campaign, runType: 'immediate', worker: 'after-migrate', maxRows: 2, leaseSeconds: 60 });
    expect(claim.messages).to.have.length(2);
    await completeBatch(app, claim.batch!.batchId, claim.messages.map((m) => ({ message_id: m.messageId, status: 'sent' })));
  });

  it('a second apply changes nothing; drift (a revoked grant, an extra grant, a changed password) is put right', async () => {
    const again = await apply();
    expect(again.statements.map((s) => s.shown)).to.deep.equal([]);

    const app = `'${account('application').user}'@'%'`;
    await root.query(`REVOKE EXECUTE ON PROCEDURE \`${db.name}\`.\`claim_batch\` FROM ${app}`);
    await root.query(`GRANT SELECT ON \`${db.name}\`.\`companies\` TO ${app}`);
    await root.query(`ALTER USER ${`'${account('reporting').user}'@'%'`} ${server.identifiedByPassword}`, ['Another-Pw-77!']);
    const dry = await apply({ dryRun: true });
    const shown = dry.statements.map((s) => s.shown).join('\n');
    expect(shown).to.include(`REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${app}`);
    expect(shown).to.include(`GRANT EXECUTE ON PROCEDURE \`${db.name}\`.\`claim_batch\` TO ${app}`);
    expect(shown).to.include(`ALTER USER '${account('reporting').user}'@'%'`);
    expect(shown).to.include(`<$${account('reporting').passwordVariable}>`);
    for (const password of Object.values(environment)) expect(shown).to.not.include(password!);

    const fixed = await apply();
    expect(fixed.statements.map((s) => s.shown)).to.deep.equal(dry.statements.map((s) => s.shown));
    expect((await apply()).statements).to.deep.equal([]);
    const appConn = await loginAs('application');
    await expectDenied(appConn, 'SELECT * FROM companies');
    const claim = await claimBatch(appConn, { campaignId: campaign, runType: 'immediate', worker: 'after-drift', maxRows: 1, leaseSeconds: 60 });
    expect(claim.messages).to.have.length(1);
    await completeBatch(appConn, claim.batch!.batchId, [{ message_id: claim.messages[0].messageId, status: 'sent' }]);
    await (await loginAs('reporting')).query('CALL session_campaign_summary(?, ?)', [token, campaign]);
  });

  it('a registry from before the auth account is widened, and the auth account recorded in it', async () => {
    await root.query("DELETE FROM database_users WHERE purpose = 'auth'");
    await root.query("ALTER TABLE database_users MODIFY purpose ENUM('migrator', 'application', 'reporting') NOT NULL");
    const fixed = await apply();
    expect(fixed.statements.map((s) => s.shown.replace(/\s+/g, ' ').slice(0, 60))).to.deep.equal([
      `ALTER TABLE \`${db.name}\`.\`database_users\` MODIFY purpose ENUM('migr`.slice(0, 60),
      `INSERT INTO \`${db.name}\`.\`database_users\` (purpose, user_name, host, appl`.slice(0, 60),
    ]);
    const rows = await queryRows<{ purpose: string; user: string }>(root, 'SELECT purpose, user_name AS user FROM database_users ORDER BY purpose');
    expect(rows.map((r) => `${r.purpose}=${r.user}`)).to.deep.equal(
      ['migrator', 'application', 'reporting', 'auth'].map((p) => `${p}=${account(p as Purpose).user}`));
    expect((await apply()).statements).to.deep.equal([]);
  });

  it('migrator: maintenance run and campaign retire succeed, verifying their dumps in the granted <db>_verify schema', async () => {
    const scratch = `${db.name}_verify`;
    const grants = (await queryRows<Record<string, string>>(root, 'SHOW GRANTS FOR ?@?', [account('migrator').user, '%'])).map((r) => Object.values(r)[0]);
    expect(grants.filter((g) => g.includes(scratch.replace(/_/g, '\\_')))).to.have.length(1);
    const old = await createCampaign(root, company.companyId, 'old');
    await seedMessages(root, old, { count: 30, contacts: company.contactIds, status: 'delivered', daysAgo: 40, updates: 1 });
    const retiring = await createCampaign(root, company.companyId, 'retiring');
    await seedMessages(root, retiring, { count: 25, contacts: company.contactIds, status: 'delivered', daysAgo: 1, updates: 1 });
    await root.query(`INSERT INTO log_events (logged_at, level, source, message)
      VALUES (NOW(3) - INTERVAL 40 DAY, 'info', 'users-spec', 'one'), (NOW(3) - INTERVAL 40 DAY, 'info', 'users-spec', 'two')`);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-users-maint-'));
    try {
      const migratorUrl = urlAs(db, account('migrator'), environment);
      const run = runCli(['maintenance', 'run', '--older-than', '30d', '--out', out, '--json', '--url', migratorUrl]);
      expect(run.code, run.stderr).to.equal(0);
      const summary = JSON.parse(run.stdout);
      expect(summary.failures).to.deep.equal([]);
      expect(summary.history).to.include({ outcome: 'ok', messagesMoved: 30, setsFailed: 0 });
      expect(summary.offload).to.include({ outcome: 'ok', tablesOffloaded: 1, rowsOffloaded: 2, tablesFailed: 0 });

      const retire = runCli(['campaign', 'retire', String(retiring), '--out', out, '--url', migratorUrl]);
      expect(retire.code, retire.stderr).to.equal(0);
      expect(retire.stdout).to.match(/verified by restore, set dropped and marked retired/);
      const [set] = await queryRows<{ state: string }>(root, 'SELECT state FROM campaign_sets WHERE campaign_id = ?', [retiring]);
      expect(set.state).to.equal('retired');
      for (const password of Object.values(environment)) expect(run.stdout + run.stderr + retire.stdout + retire.stderr).to.not.include(password!);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
    const left = await queryRows(root, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [scratch]);
    expect(left, 'each verification drops its scratch schema').to.have.length(0);
  });

  describe('refuses wrong use with a one-line reason (exit 1)', () => {
    it('an unknown environment', () => {
      expectOneLineError(runCli(['users', 'apply', '--env', 'nosuch']), /nosuch/);
    });

    it('a missing password variable, named', () => {
      const other = uniquePrefix();
      const result = runCli(['users', 'apply', '--url', db.url, '--prefix', other]);
      expectOneLineError(result, new RegExp(`${other.toUpperCase()}_MIGRATOR_PASSWORD`));
    });

    it('a user that exists at another host', async () => {
      const other = uniquePrefix();
      const mine = accountsFor(other);
      extraUsers.push(...mine.map((a) => a.user));
      await root.query(`CREATE USER '${mine[1].user}'@'localhost' ${server.identifiedByPassword}`, ['Pw-local-1!x']);
      const result = runCli(['users', 'apply', '--url', db.url, '--prefix', other], passwordsFor(mine));
      expectOneLineError(result, new RegExp(`${mine[1].user} already exists as '${mine[1].user}'@'localhost'`));
    });

    it('a user that authenticates with another plugin', async () => {
      const other = uniquePrefix();
      const mine = accountsFor(other);
      extraUsers.push(...mine.map((a) => a.user));
      const otherPlugin = server.flavour === 'mysql' ? "IDENTIFIED WITH sha256_password BY 'Pw-sha256-1!x'" : 'IDENTIFIED VIA unix_socket';
      await root.query(`CREATE USER '${mine[2].user}'@'%' ${otherPlugin}`);
      const result = runCli(['users', 'apply', '--url', db.url, '--prefix', other], passwordsFor(mine));
      expectOneLineError(result, new RegExp(`authenticates with (sha256_password|unix_socket), not ${server.passwordPlugin}`));
    });

    it('an account without the privilege to create users', () => {
      const other = uniquePrefix();
      const result = runCli(['users', 'apply', '--url', urlAs(db, account('application'), environment), '--prefix', other],
        passwordsFor(accountsFor(other)));
      expectOneLineError(result, /may not manage database users/);
      expect(result.stderr).to.not.include(environment[account('application').passwordVariable]!);
    });

    it('--dry-run prints the statements without a password and changes nothing', async () => {
      const other = uniquePrefix();
      const mine = accountsFor(other);
      extraUsers.push(...mine.map((a) => a.user));
      const passwords = passwordsFor(mine);
      const result = runCli(['users', 'apply', '--url', db.url, '--prefix', other, '--dry-run'], passwords);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.include(`CREATE USER '${mine[0].user}'@'%'`);
      expect(result.stdout).to.include(`GRANT EXECUTE ON PROCEDURE \`${db.name}\`.\`claim_batch\` TO '${mine[1].user}'@'%'`);
      for (const password of Object.values(passwords)) expect(result.stdout).to.not.include(password!);
      const [none] = await root.query('SELECT User FROM mysql.user WHERE User IN (?)', [mine.map((a) => a.user)]) as unknown as [unknown[]];
      expect(none).to.deep.equal([]);
    });
  });
});
