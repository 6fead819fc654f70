// The least-privilege users on a real server: created by `users apply`, then each logs in with
// mysql2 and shows what it can and cannot do. Users are server-wide, so every name here is unique
// to this run and every account is dropped afterwards, also when a test fails.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { connect, Connection, queryRows, withConnection } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { migrateUp } from '../../tools/migrate/migrator';
import { applyUsers } from '../../tools/users/apply';
import { Account, accountsFor, Purpose } from '../../tools/users/accounts';
import { claimBatch, completeBatch } from '../helpers/routine-calls';
import { createCampaign, insertMessages, seedCompany, tableName, Company } from '../pipeline/helpers';
import { PROJECT_ROOT, runCli } from '../helpers/cli';

/** A prefix of at most 15 characters, unique to this process and call: rdbtu<pid><random>. */
function uniquePrefix(): string {
  return `rdbtu${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

function passwordsFor(accounts: Account[]): NodeJS.ProcessEnv {
  return Object.fromEntries(accounts.map((a) => [a.passwordVariable, `Pw-${a.purpose}-${Math.random().toString(36).slice(2)}-9x!`]));
}

/** Accounts of earlier runs of this spec whose process is gone (killed before its after hook). */
async function dropStaleAccounts(serverUrl: string): Promise<void> {
  const rows = await withConnection(serverUrl, (conn) =>
    queryRows<{ User: string }>(conn, "SELECT DISTINCT User FROM mysql.user WHERE User LIKE 'rdbtu%'"), { database: null });
  const stale = rows.map((r) => r.User).filter((user) => {
    const pid = parseInt(/^rdbtu([0-9a-z]+)[0-9a-z]{4}_/.exec(user)?.[1] ?? '', 36);
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  });
  if (stale.length) await dropAccounts(serverUrl, stale);
}

/** The throwaway database's URL, logged in as the account. */
function urlAs(db: ThrowawayDatabase, account: Account, environment: NodeJS.ProcessEnv): string {
  const url = new URL(db.url);
  url.username = account.user;
  url.password = encodeURIComponent(environment[account.passwordVariable]!);
  return url.toString();
}

async function dropAccounts(serverUrl: string, names: string[]): Promise<void> {
  await withConnection(serverUrl, async (conn) => {
    const rows = await queryRows<{ User: string; Host: string }>(conn, 'SELECT User, Host FROM mysql.user WHERE User IN (?)', [names]);
    for (const r of rows) await conn.query('DROP USER ?@?', [r.User, r.Host]);
  }, { database: null });
}

/** Expects the statement to be refused for lack of a privilege (not for any other reason). */
async function expectDenied(conn: Connection, sql: string, params: unknown[] = []): Promise<void> {
  let error: { code?: string; message?: string } | undefined;
  try {
    await conn.query(sql, params);
  } catch (err) {
    error = err as { code?: string };
  }
  expect(error, `${sql} should be refused`).to.exist;
  expect(error!.code, `${sql}: ${error!.message}`).to.be.oneOf([
    'ER_TABLEACCESS_DENIED_ERROR', 'ER_PROCACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_SPECIFIC_ACCESS_DENIED_ERROR',
    'ER_COLUMNACCESS_DENIED_ERROR',
  ]);
}

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
    expect(report.notes).to.include(`routine grants restored: 5 for ${account('application').user}`);
    expect(report.notes).to.include(`routine grants restored: 2 for ${account('reporting').user}`);
    company = await seedCompany(root, 20);
    campaign = await createCampaign(root, company.companyId);
    await insertMessages(root, campaign, { count: 10, packet: 1, contacts: company.contactIds });
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
    await app.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 1]);
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
    const [{ n }] = await queryRows<{ n: number }>(root, 'SELECT COUNT(*) AS n FROM campaign_sets WHERE campaign_id = ?', [campaign]);
    expect(Number(n), 'the set is still there').to.equal(1);
  });

  it('reporting: calls campaign_summary and health_campaigns; cannot claim, write or create anything', async () => {
    const reporting = await loginAs('reporting');
    const [sets] = await reporting.query('CALL campaign_summary(?, ?)', [company.allowedUser, campaign]) as unknown as [unknown[][]];
    expect(sets[0]).to.be.an('array').that.is.not.empty;
    // health_campaigns fills a session temporary table with the definer's rights: the monitor needs no write grant.
    const [health] = await reporting.query('CALL health_campaigns(?, 15)', [campaign]) as unknown as [Record<string, unknown>[][]];
    expect(health[0].map((r) => Number(r.campaign_id))).to.deep.equal([campaign]);
    await expectDenied(reporting, "CALL claim_batch(?, 'immediate', 'r', 10, 60)", [campaign]);
    await expectDenied(reporting, 'CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 1]);
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
      expect(report.notes).to.include(`routine grants restored: 1 for ${account('application').user}`);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
    const app = await loginAs('application');
    await app.query('CALL mark_packet_ready(?, ?, ?)', [company.allowedUser, campaign, 1]);
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
    await (await loginAs('reporting')).query('CALL campaign_summary(?, ?)', [company.allowedUser, campaign]);
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
