// Nothing the database holds becomes SQL text: hostile rows in database_users and hostile names
// from the catalogue or a URL are refused with one line, and no account on the server changes
// (SHOW GRANTS of every account and mysql.user's password hashes are compared before and after).
// Accounts are server-wide: every name here is unique to this run and dropped afterwards.
import { expect } from 'chai';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { Connection, queryRows, withConnection } from '../../tools/sql/connection';
import { migrateUp } from '../../tools/migrate/migrator';
import { applyUsers } from '../../tools/users/apply';
import { restoreRoutineGrants } from '../../tools/users/routine-grants';
import { accountsFor, Account } from '../../tools/users/accounts';
import { readRegistry, REGISTRY_TABLE } from '../../tools/users/registry';
import { UserError } from '../../tools/errors';
import { PROJECT_ROOT, runCli } from '../helpers/cli';

const unique = () => `rdbti${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Every account's grants and password hash: what an injection would change. */
async function accountSnapshot(conn: Connection): Promise<Map<string, string>> {
  const users = await queryRows<{ User: string; Host: string; hash: string | null }>(conn,
    'SELECT User, Host, authentication_string AS hash FROM mysql.user ORDER BY User, Host');
  const snapshot = new Map<string, string>();
  for (const u of users) {
    let grants: string[];
    try {
      grants = (await queryRows<Record<string, string>>(conn, 'SHOW GRANTS FOR ?@?', [u.User, u.Host])).map((r) => Object.values(r)[0]).sort();
    } catch (err) {
      grants = [`(SHOW GRANTS failed: ${(err as { code?: string }).code})`];
    }
    snapshot.set(`${u.User}@${u.Host}`, JSON.stringify({ hash: u.hash, grants }));
  }
  return snapshot;
}

/**
 * The accounts whose grants or password changed: every account of the server but the throwaway
 * accounts other specs running at the same time create, change and drop (rdbt*, not ours).
 */
function changedAccounts(before: Map<string, string>, after: Map<string, string>, ours: string[]): string[] {
  const someoneElses = (k: string) => k.startsWith('rdbt') && !ours.includes(k);
  return [...before.keys()].filter((k) => !someoneElses(k) && after.get(k) !== before.get(k))
    .concat(ours.filter((k) => !before.has(k)));
}

describe('users: nothing the database holds is pasted into a statement', function () {
  this.timeout(300_000);
  let db: ThrowawayDatabase;
  let root: Connection;
  const prefix = unique();
  const accounts = accountsFor(prefix);
  const victim = `${prefix}_victim`;
  const environment = Object.fromEntries(accounts.map((a: Account) => [a.passwordVariable, `Pw-${a.purpose}-${Math.random().toString(36).slice(2)}!`]));
  const ours = [...accounts.map((a) => `${a.user}@%`), `${victim}@%`];

  before(async () => {
    db = await createThrowawayDatabase('inject');
    root = await db.connect();
    await root.query("CREATE USER ?@'%' IDENTIFIED BY 'victim-Pw-1'", [victim]);
    await migrateUp({ url: db.url, quiet: true });
    await applyUsers({ url: db.url, prefix, root: PROJECT_ROOT, environment, migratorSuper: true });
    expect((await readRegistry(root, db.name)).map((r) => r.user).sort()).to.deep.equal(accounts.map((a) => a.user).sort());
  });

  after(async () => {
    if (root) {
      const rows = await queryRows<{ User: string; Host: string }>(root, 'SELECT User, Host FROM mysql.user WHERE User LIKE ?', [`${prefix}%`]);
      for (const r of rows) await root.query('DROP USER ?@?', [r.User, r.Host]);
      await root.end().catch(() => root.destroy());
    }
    await db?.drop();
  });

  const hostileRows: [string, string, string][] = [
    ['the issue\'s row', `${victim}'@'%' IDENTIFIED BY 'x' -- `, '%'],
    ['a quote in the host', `${prefix}_app`, `%' WITH GRANT OPTION -- `],
    ['a backtick and a comment', `${prefix}\`_app /*`, '%'],
    ['another existing account', victim, '%'],
    ['root', 'root', 'localhost'],
    ['a space', `${prefix} _app`, '%'],
  ];

  for (const [label, user, host] of hostileRows) {
    it(`a database_users row with ${label} is refused by migrate up, users apply and the grant restore; no account changes`, async () => {
      const before = await accountSnapshot(root);
      await root.query(`UPDATE ${REGISTRY_TABLE} SET user_name = ?, host = ? WHERE purpose = 'application'`, [user, host]);
      try {
        let refused: unknown;
        try {
          await restoreRoutineGrants(root, db.name, PROJECT_ROOT);
        } catch (err) {
          refused = err;
        }
        expect(refused, 'restoreRoutineGrants').to.be.instanceOf(UserError);
        expect((refused as Error).message).to.match(/^database_users row "application": /);

        // migrate up as root re-creates a routine (its checksum no longer matches), then restores grants.
        await root.query("UPDATE migration_ledger SET checksum = REPEAT('0', 64) WHERE name = 'procedures/claim_batch'");
        const up = runCli(['migrate', 'up', '--url', db.url]);
        expect(up.code, up.stdout + up.stderr).to.equal(1);
        expect(up.stderr.trim().split('\n'), up.stderr).to.have.length(1);
        expect(up.stderr).to.match(/^reminderly-db: database_users row "application": /);

        const apply = runCli(['users', 'apply', '--url', db.url, '--prefix', prefix, '--migrator-super'], environment);
        expect(apply.code, apply.stderr).to.equal(1);
        expect(apply.stderr.trim().split('\n'), apply.stderr).to.have.length(1);

        expect(changedAccounts(before, await accountSnapshot(root), ours)).to.deep.equal([]);
      } finally {
        await root.query(`UPDATE ${REGISTRY_TABLE} SET user_name = ?, host = '%' WHERE purpose = 'application'`, [`${prefix}_app`]);
      }
    });
  }

  it('users apply refuses a hostile --prefix or --host before touching the server', async () => {
    const before = await accountSnapshot(root);
    for (const args of [['--prefix', `x'@'%' IDENTIFIED BY 'x' -- `], ['--prefix', prefix, '--host', `%' IDENTIFIED BY 'x`]]) {
      const r = runCli(['users', 'apply', '--url', db.url, ...args], environment);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    }
    expect(changedAccounts(before, await accountSnapshot(root), ours)).to.deep.equal([]);
  });

  it('a database name that is not a plain identifier is refused in one line, nothing created', async () => {
    const hostile = `${db.name}\`; DROP DATABASE \`${db.name}`;
    const url = new URL(db.url);
    url.pathname = '/' + encodeURIComponent(hostile);
    for (const args of [['migrate', 'up'], ['campaign', 'create', '1'], ['users', 'apply', '--prefix', prefix]]) {
      const r = runCli([...args, '--url', url.toString()], environment);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.be.oneOf([1]);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    }
    const [exists] = await queryRows(root, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db.name]);
    expect(exists, 'the database is still there').to.exist;
  });

  it('a hostile table name in the catalogue is never pasted: log rotation skips or quotes it, the table and the schema stay', async () => {
    const hostile = "log_x`; DROP TABLE campaigns; --x";
    await withConnection(db.url, async (conn) => {
      await conn.query(`CREATE TABLE \`${hostile.replace(/`/g, '``')}\` (id INT PRIMARY KEY, logged_at DATETIME(3) NOT NULL)`);
      await conn.query(`INSERT INTO \`${hostile.replace(/`/g, '``')}\` VALUES (1, NOW(3))`);
    });
    const r = runCli(['maintenance', 'rotate-logs', '--url', db.url]);
    expect(r.stderr.trim().split('\n').filter(Boolean).length, r.stderr).to.be.at.most(1);
    const tables = (await queryRows<{ name: string }>(root,
      'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?, ?)', [db.name, 'campaigns', hostile]))
      .map((t) => t.name).sort();
    expect(tables).to.deep.equal(['campaigns', hostile].sort());
  });
});
