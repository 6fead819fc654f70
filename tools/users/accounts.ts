// Who the platform's database users are: their purposes, names, host pattern and the environment
// variables their passwords come from. One place for the naming rule, so `users apply`, the
// migrate hook and the README agree.
import mysql from 'mysql2';
import { UserError } from '../errors';
import { GrantRole } from '../routines/header';

/**
 * The database users of one database; application, reporting and auth are the @grant roles. auth
 * is the auth service's: it alone may issue the end-user sessions the application acts with.
 */
export const PURPOSES = ['migrator', 'application', 'reporting', 'auth'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** The suffix of each purpose's user name. */
const SUFFIX: Record<Purpose, string> = { migrator: 'migrator', application: 'app', reporting: 'reporting', auth: 'auth' };

/** The suffix a user name of this purpose ends with (_migrator, _app, _reporting). */
export function purposeSuffix(purpose: Purpose): string {
  return `_${SUFFIX[purpose]}`;
}

/** MySQL's limit for user names (MariaDB allows 80); the shorter one keeps names portable. */
export const MAX_USER_NAME = 32;

export interface Account {
  purpose: Purpose;
  user: string;
  host: string;
  /** The environment variable holding the password, e.g. REMINDERLY_PROD_MIGRATOR_PASSWORD. */
  passwordVariable: string;
}

export const DEFAULT_HOST = '%';

/** What a user name or host pattern may hold: no quote, space or comment can ever reach SQL text. */
const USER_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const HOST_PATTERN = /^[A-Za-z0-9_.%:-]+$/;

/**
 * Refuses a user name or host pattern that is not a plain name, wherever it came from (an option,
 * or a database_users row that anyone with write access to the database may have edited).
 */
export function checkAccountName(account: Pick<Account, 'user' | 'host'>, source: string): void {
  if (typeof account.user !== 'string' || !USER_NAME.test(account.user) || account.user.length > 80) {
    throw new UserError(`${source}: user name ${JSON.stringify(account.user)} is not a plain name (a letter, then letters, digits and _)`);
  }
  if (typeof account.host !== 'string' || !HOST_PATTERN.test(account.host) || account.host.length > 255) {
    throw new UserError(`${source}: host pattern ${JSON.stringify(account.host)} may hold only letters, digits and . _ % : -`);
  }
}

/**
 * 'user'@'host' for SQL text (account names cannot be bound in GRANT/CREATE USER on every server):
 * checked to be plain names, then quoted with the server's string escaping all the same.
 */
export function accountSql(account: Pick<Account, 'user' | 'host'>): string {
  checkAccountName(account, 'account');
  return `${mysql.escape(account.user)}@${mysql.escape(account.host)}`;
}

export function isGrantRole(purpose: Purpose): purpose is GrantRole {
  return purpose !== 'migrator';
}

/**
 * The accounts for a prefix: <prefix>_migrator, <prefix>_app, <prefix>_reporting, <prefix>_auth at
 * `host`, with passwords in <PREFIX>_MIGRATOR_PASSWORD, <PREFIX>_APP_PASSWORD,
 * <PREFIX>_REPORTING_PASSWORD, <PREFIX>_AUTH_PASSWORD.
 */
export function accountsFor(prefix: string, host = DEFAULT_HOST): Account[] {
  if (!USER_NAME.test(prefix)) {
    throw new UserError(`user name prefix "${prefix}" must start with a letter and hold only letters, digits and _`);
  }
  if (!HOST_PATTERN.test(host)) {
    throw new UserError(`host pattern "${host}" may hold only letters, digits and . _ % : -`);
  }
  return PURPOSES.map((purpose) => {
    const user = `${prefix}_${SUFFIX[purpose]}`;
    if (user.length > MAX_USER_NAME) {
      throw new UserError(`user name ${user} is longer than ${MAX_USER_NAME} characters (MySQL's limit): choose a shorter --prefix`);
    }
    return { purpose, user, host, passwordVariable: `${user.toUpperCase()}_PASSWORD` };
  });
}

/** The default prefix: reminderly_<env>, or for --url the database's name. */
export function defaultPrefix(env: string, database: string): string {
  return env === 'url' ? database : `reminderly_${env}`;
}

/** Reads each account's password from its variable; a missing one is a UserError naming it. */
export function passwordsFrom(accounts: Account[], environment: NodeJS.ProcessEnv = process.env): Map<Purpose, string> {
  const missing = accounts.filter((a) => !environment[a.passwordVariable]);
  if (missing.length) {
    throw new UserError(`missing password: set ${missing.map((a) => a.passwordVariable).join(', ')} (passwords come from the environment, never from a file)`);
  }
  return new Map(accounts.map((a) => [a.purpose, environment[a.passwordVariable]!]));
}
