// Who the platform's database users are: their purposes, names, host pattern and the environment
// variables their passwords come from. One place for the naming rule, so `users apply`, the
// migrate hook and the README agree.
import { UserError } from '../errors';
import { GrantRole } from '../codegen/header';

/**
 * The database users of one database; application, reporting and auth are the @grant roles. auth
 * is the auth service's: it alone may issue the end-user sessions the application acts with.
 */
export const PURPOSES = ['migrator', 'application', 'reporting', 'auth'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** The suffix of each purpose's user name. */
const SUFFIX: Record<Purpose, string> = { migrator: 'migrator', application: 'app', reporting: 'reporting', auth: 'auth' };

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

/** Quoted 'user'@'host' for SQL text; both parts are checked by accountsFor, so plain quoting is safe. */
export function accountSql(account: Pick<Account, 'user' | 'host'>): string {
  return `'${account.user}'@'${account.host}'`;
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
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(prefix)) {
    throw new UserError(`user name prefix "${prefix}" must start with a letter and hold only letters, digits and _`);
  }
  if (!/^[A-Za-z0-9_.%:-]+$/.test(host)) {
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
