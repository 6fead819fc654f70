// `users apply`: brings the four database users of one database to exactly what they should be
// (created, password from the environment, grants from the routine headers), changing nothing
// when they already are; and the grant restore `migrate up` calls after re-creating routines.
import { OperationError, UserError } from '../errors';
import { connect, Connection, parseUrl, queryRows, quoteIdentifier, redactUrl, withConnection } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { projectRoot } from '../project';
import { Account, accountSql, accountsFor, DEFAULT_HOST, passwordsFrom, Purpose } from './accounts';
import { actualGrants, compareGrants, desiredGrants, grantStatement, liveRoutines, parseGrantLine, routineGrants } from './grants';
import { CREATE_REGISTRY, readRegistry, registerStatement, registryExists, registryUpgrade } from './registry';
import { DATABASE_OPTIONS } from '../sql/charset';

export interface UsersOptions {
  /** An account that may create users and grant (e.g. root), with the database in the URL. */
  url: string;
  /** User names are <prefix>_migrator, <prefix>_app, <prefix>_reporting. */
  prefix: string;
  host?: string;
  /** Project folder whose procedures/ headers say who may EXECUTE what (default: this package). */
  root?: string;
  dryRun?: boolean;
  /**
   * Give the migrator SUPER where the server requires it to create stored functions (binary log
   * on, log_bin_trust_function_creators OFF). Off by default: SUPER is far more than DDL.
   */
  migratorSuper?: boolean;
  /** Where passwords are read from (default process.env). */
  environment?: NodeJS.ProcessEnv;
}

export interface PlannedStatement {
  sql: string;
  params: unknown[];
  /** The statement as printed: a password is shown as the name of its variable. */
  shown: string;
}

export interface UsersReport {
  database: string;
  accounts: Account[];
  statements: PlannedStatement[];
  applied: boolean;
  /** Things the user should act on that are not errors (printed to stderr). */
  warnings: string[];
}

const plain = (sql: string): PlannedStatement => ({ sql, params: [], shown: sql });

/** Server errors that mean "the account running this may not do that": a user's mistake, one line. */
const ACCESS_DENIED = new Set(['ER_TABLEACCESS_DENIED_ERROR', 'ER_SPECIFIC_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR',
  'ER_ACCESS_DENIED_ERROR', 'ER_CANT_CREATE_USER_WITH_GRANT', 'ER_PROCACCESS_DENIED_ERROR', 'ER_PASSWORD_NOT_ALLOWED']);

function asUserError(err: unknown, who: string): unknown {
  const e = err as { code?: string; message?: string };
  if (e.code && ACCESS_DENIED.has(e.code)) {
    return new UserError(`${who} may not manage database users (needs CREATE USER, SELECT on mysql.* and GRANT OPTION): ${e.message}`);
  }
  return err;
}

/** Whether the account can log in with the password, i.e. the stored password is the current one. */
async function passwordWorks(url: string, account: Account, password: string): Promise<boolean> {
  const login = new URL(url);
  login.username = encodeURIComponent(account.user);
  login.password = encodeURIComponent(password);
  login.pathname = '';
  try {
    return await withConnection(login.toString(), async () => true, { database: null });
  } catch {
    return false;
  }
}

interface ExistingAccount {
  User: string;
  Host: string;
  plugin: string;
}

async function existingAccounts(conn: Connection, accounts: Account[], who: string): Promise<ExistingAccount[]> {
  try {
    return await queryRows<ExistingAccount>(conn,
      'SELECT User, Host, plugin FROM mysql.user WHERE User IN (?)', [accounts.map((a) => a.user)]);
  } catch (err) {
    throw asUserError(err, who);
  }
}

function refuseConflicts(accounts: Account[], existing: ExistingAccount[], server: ServerInfo): void {
  for (const account of accounts) {
    const rows = existing.filter((r) => r.User === account.user);
    const otherHost = rows.find((r) => r.Host !== account.host);
    if (otherHost) {
      throw new UserError(`user ${account.user} already exists as '${otherHost.User}'@'${otherHost.Host}', not @'${account.host}': drop that account or pass --host '${otherHost.Host}'`);
    }
    const otherPlugin = rows.find((r) => r.plugin !== server.passwordPlugin);
    if (otherPlugin) {
      throw new UserError(`user ${accountSql(account)} authenticates with ${otherPlugin.plugin}, not ${server.passwordPlugin}: drop it or change it by hand; users apply will not`);
    }
  }
}

/**
 * With the binary log on, both servers refuse CREATE FUNCTION (ER 1419) to an account without
 * SUPER unless log_bin_trust_function_creators is ON: then the migrator cannot apply procedures/.
 */
async function functionsNeedSuper(conn: Connection): Promise<boolean> {
  const [row] = await queryRows<{ logBin: number; trusted: number }>(conn,
    'SELECT @@global.log_bin AS logBin, @@global.log_bin_trust_function_creators AS trusted');
  return Number(row.logBin) === 1 && Number(row.trusted) === 0;
}

async function planAccount(conn: Connection, url: string, server: ServerInfo, account: Account, password: string,
  exists: boolean, desired: ReturnType<typeof desiredGrants>): Promise<PlannedStatement[]> {
  const who = accountSql(account);
  const statements: PlannedStatement[] = [];
  const setPassword = (verb: 'CREATE' | 'ALTER') => ({
    sql: `${verb} USER ${who} ${server.identifiedByPassword}`,
    params: [password],
    shown: `${verb} USER ${who} ${server.identifiedByPassword.replace('?', `<$${account.passwordVariable}>`)}`,
  });
  if (!exists) statements.push(setPassword('CREATE'));
  else if (!(await passwordWorks(url, account, password))) statements.push(setPassword('ALTER'));
  const { missing, extra } = compareGrants(desired, exists ? await actualGrants(conn, account) : []);
  const unrevokable = extra.find((line) => !parseGrantLine(line));
  if (unrevokable) {
    // REVOKE ALL does not take back a role or a proxy grant; guessing their REVOKE is not ours to do.
    throw new UserError(`${who} has a grant users apply does not manage, revoke it by hand: ${unrevokable}`);
  }
  if (extra.length) {
    // Anything beyond the plan (a table grant, another database, a global privilege, a role):
    // start from nothing rather than guess how each extra grant should be taken back.
    statements.push(plain(`REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${who}`));
    for (const grant of desired) statements.push(plain(grantStatement(grant, who)));
  } else {
    for (const grant of missing) statements.push(plain(grantStatement(grant, who)));
  }
  return statements;
}

export async function applyUsers(options: UsersOptions): Promise<UsersReport> {
  const { database, user: adminUser } = parseUrl(options.url);
  if (!database) throw new UserError('the URL must name the database the users are for (mysql://admin@host:port/DATABASE)');
  const accounts = accountsFor(options.prefix, options.host ?? DEFAULT_HOST);
  const passwords = passwordsFrom(accounts, options.environment);
  const root = options.root ?? projectRoot();
  const who = `${adminUser} (${redactUrl(options.url)})`;
  const conn = await connect(options.url, { database: null });
  try {
    const server = await detectServer(conn);
    const existing = await existingAccounts(conn, accounts, who);
    refuseConflicts(accounts, existing, server);

    const statements: PlannedStatement[] = [];
    const [schema] = await queryRows(conn, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
    if (!schema) statements.push(plain(`CREATE DATABASE ${quoteIdentifier(database)} ${DATABASE_OPTIONS}`));
    const byRole = routineGrants(schema ? await liveRoutines(conn, database) : [], root);
    const warnings: string[] = [];
    const needSuper = await functionsNeedSuper(conn);
    if (needSuper && !options.migratorSuper) {
      warnings.push('the binary log is on and log_bin_trust_function_creators is OFF: the migrator cannot create stored functions '
        + '(ER 1419) and `migrate up` as the migrator will fail; set log_bin_trust_function_creators=ON in the server configuration '
        + '(the migrator is the only account that creates routines), or pass --migrator-super');
    }
    for (const account of accounts) {
      const exists = existing.some((r) => r.User === account.user);
      const desired = desiredGrants(account.purpose, database, byRole);
      if (account.purpose === 'migrator' && needSuper && options.migratorSuper) {
        desired.push({ object: '*.*', privileges: ['SUPER'], grantOption: false });
      }
      statements.push(...await planAccount(conn, options.url, server, account, passwords.get(account.purpose)!, exists, desired));
    }
    const registered = schema ? await readRegistry(conn, database) : [];
    const hasRegistry = schema ? await registryExists(conn, database) : false;
    if (!hasRegistry) statements.push(plain(`CREATE TABLE ${quoteIdentifier(database)}.${CREATE_REGISTRY.replace(/^CREATE TABLE IF NOT EXISTS /, '')}`));
    const upgrade = hasRegistry ? await registryUpgrade(conn, database) : null;
    if (upgrade) statements.push(plain(upgrade));
    for (const account of accounts) {
      const row = registered.find((r) => r.purpose === account.purpose);
      if (row && row.user === account.user && row.host === account.host) continue;
      const { sql, params } = registerStatement(account);
      const qualified = sql.replace(/INSERT INTO /, `INSERT INTO ${quoteIdentifier(database)}.`);
      statements.push({ sql: qualified, params, shown: conn.format(qualified, params).replace(/\s+/g, ' ') });
    }

    if (!options.dryRun) {
      for (const statement of statements) {
        try {
          await conn.query(statement.sql, statement.params);
        } catch (err) {
          const mapped = asUserError(err, who);
          if (mapped instanceof UserError) throw mapped;
          const e = err as { message?: string };
          throw new OperationError(`users apply: ${statement.shown}: ${e.message}`);
        }
      }
    }
    return { database, accounts, statements, applied: !options.dryRun, warnings };
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}
