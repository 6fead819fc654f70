// Shared by the drift and baseline specs: database users unique to this run (users are
// server-wide), dropped afterwards.
import { withConnection, queryRows } from '../../tools/sql/connection';
import { accountsFor } from '../../tools/users/accounts';

export interface TestAccounts {
  prefix: string;
  names: string[];
  environment: NodeJS.ProcessEnv;
}

/** A users apply prefix of at most 15 characters, unique to this process and call: rdbtd<pid><random>. */
export function uniqueAccounts(): TestAccounts {
  const prefix = `rdbtd${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const accounts = accountsFor(prefix);
  return {
    prefix,
    names: accounts.map((a) => a.user),
    environment: Object.fromEntries(accounts.map((a) => [a.passwordVariable, `Pw-${a.purpose}-${Math.random().toString(36).slice(2)}-9x!`])),
  };
}

export async function dropAccounts(serverUrl: string, names: string[]): Promise<void> {
  await withConnection(serverUrl, async (conn) => {
    const rows = await queryRows<{ User: string; Host: string }>(conn, 'SELECT User, Host FROM mysql.user WHERE User IN (?)', [names]);
    for (const r of rows) await conn.query('DROP USER ?@?', [r.User, r.Host]);
  }, { database: null });
}
