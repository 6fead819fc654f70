// database_users: which accounts `users apply` made for this database, so `migrate up` (run by
// whoever) knows whom to give re-created routines back to. Bookkeeping created by the tool, like
// migration_ledger; it holds names and host patterns only, never a password.
import { UserError } from '../errors';
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { Account, checkAccountName, Purpose, purposeSuffix, PURPOSES } from './accounts';
import { TABLE_OPTIONS } from '../sql/charset';

export const REGISTRY_TABLE = 'database_users';

const PURPOSE_TYPE = `ENUM(${PURPOSES.map((p) => `'${p}'`).join(', ')})`;

export const CREATE_REGISTRY = `CREATE TABLE IF NOT EXISTS \`${REGISTRY_TABLE}\` (
    purpose ${PURPOSE_TYPE} NOT NULL PRIMARY KEY,
    user_name VARCHAR(80) NOT NULL,
    host VARCHAR(255) NOT NULL,
    applied_at DATETIME(3) NOT NULL
  ) ${TABLE_OPTIONS}`;

export interface RegisteredAccount {
  purpose: Purpose;
  user: string;
  host: string;
}

export async function registryExists(conn: Connection, database: string): Promise<boolean> {
  const rows = await queryRows(conn,
    'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, REGISTRY_TABLE]);
  return rows.length > 0;
}

/**
 * The statement that widens an older registry's purpose column to every purpose (the auth account
 * came later), or null when it already holds them all.
 */
export async function registryUpgrade(conn: Connection, database: string): Promise<string | null> {
  const [column] = await queryRows<{ type: string }>(conn,
    'SELECT COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?',
    [database, REGISTRY_TABLE, 'purpose']);
  if (!column || PURPOSES.every((p) => column.type.includes(`'${p}'`))) return null;
  return `ALTER TABLE ${quoteIdentifier(database)}.\`${REGISTRY_TABLE}\` MODIFY purpose ${PURPOSE_TYPE} NOT NULL`;
}

/**
 * The registered accounts, each checked to be a plain user name and host pattern: the migrator
 * (and whoever else may write this database) can edit the table, so a row is input, not trusted.
 * A hostile row is refused with a UserError naming it; nothing is granted to anyone.
 */
export async function readRegistry(conn: Connection, database: string): Promise<RegisteredAccount[]> {
  if (!(await registryExists(conn, database))) return [];
  const rows = await queryRows<RegisteredAccount>(conn,
    `SELECT purpose, user_name AS user, host FROM ${quoteIdentifier(database)}.\`${REGISTRY_TABLE}\` ORDER BY purpose`);
  for (const row of rows) {
    if (!PURPOSES.includes(row.purpose)) throw new UserError(`${REGISTRY_TABLE}: unknown purpose ${JSON.stringify(row.purpose)}`);
    checkAccountName(row, `${REGISTRY_TABLE} row "${row.purpose}"`);
    // users apply only ever registers <prefix>_app / _reporting / _migrator: a row naming any
    // other account (root, a colleague's) would have migrate up grant it routines.
    if (!row.user.endsWith(purposeSuffix(row.purpose))) {
      throw new UserError(`${REGISTRY_TABLE} row "${row.purpose}": user ${row.user} does not end with ${purposeSuffix(row.purpose)}, so users apply did not register it`);
    }
  }
  return rows;
}

/** The statement that records an account (the caller runs it only when the row differs). */
export function registerStatement(account: Account): { sql: string; params: unknown[] } {
  checkAccountName(account, REGISTRY_TABLE);
  return {
    sql: `INSERT INTO \`${REGISTRY_TABLE}\` (purpose, user_name, host, applied_at) VALUES (?, ?, ?, UTC_TIMESTAMP(3))
            ON DUPLICATE KEY UPDATE user_name = ?, host = ?, applied_at = UTC_TIMESTAMP(3)`,
    params: [account.purpose, account.user, account.host, account.user, account.host],
  };
}
