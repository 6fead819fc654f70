// Real database accounts for the users specs: unique names per run, logins as each account, and
// their removal (also of accounts a killed run left behind).
import { expect } from 'chai';
import { ThrowawayDatabase } from '../../tools/harness/database';
import { Connection, queryRows, withConnection } from '../../tools/sql/connection';
import { Account } from '../../tools/users/accounts';

/** A prefix of at most 15 characters, unique to this process and call: rdbtu<pid><random>. */
export function uniquePrefix(): string {
  return `rdbtu${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export function passwordsFor(accounts: Account[]): NodeJS.ProcessEnv {
  return Object.fromEntries(accounts.map((a) => [a.passwordVariable, `Pw-${a.purpose}-${Math.random().toString(36).slice(2)}-9x!`]));
}

export async function dropAccounts(serverUrl: string, names: string[]): Promise<void> {
  await withConnection(serverUrl, async (conn) => {
    const rows = await queryRows<{ User: string; Host: string }>(conn, 'SELECT User, Host FROM mysql.user WHERE User IN (?)', [names]);
    for (const r of rows) await conn.query('DROP USER ?@?', [r.User, r.Host]);
  }, { database: null });
}

/** Accounts of earlier runs of these specs whose process is gone (killed before its after hook). */
export async function dropStaleAccounts(serverUrl: string): Promise<void> {
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
export function urlAs(db: ThrowawayDatabase, account: Account, environment: NodeJS.ProcessEnv): string {
  const url = new URL(db.url);
  url.username = account.user;
  url.password = encodeURIComponent(environment[account.passwordVariable]!);
  return url.toString();
}

/** Expects the statement to be refused for lack of a privilege (not for any other reason). */
export async function expectDenied(conn: Connection, sql: string, params: unknown[] = []): Promise<void> {
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
