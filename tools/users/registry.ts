// database_users: which accounts `users apply` made for this database, so `migrate up` (run by
// whoever) knows whom to give re-created routines back to. Bookkeeping created by the tool, like
// migration_ledger; it holds names and host patterns only, never a password.
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { Account, Purpose, PURPOSES } from './accounts';
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

export async function readRegistry(conn: Connection, database: string): Promise<RegisteredAccount[]> {
  if (!(await registryExists(conn, database))) return [];
  return queryRows<RegisteredAccount>(conn,
    `SELECT purpose, user_name AS user, host FROM ${quoteIdentifier(database)}.\`${REGISTRY_TABLE}\` ORDER BY purpose`);
}

/** The statement that records an account (the caller runs it only when the row differs). */
export function registerStatement(account: Account): { sql: string; params: unknown[] } {
  return {
    sql: `INSERT INTO \`${REGISTRY_TABLE}\` (purpose, user_name, host, applied_at) VALUES (?, ?, ?, UTC_TIMESTAMP(3))
            ON DUPLICATE KEY UPDATE user_name = ?, host = ?, applied_at = UTC_TIMESTAMP(3)`,
    params: [account.purpose, account.user, account.host, account.user, account.host],
  };
}
