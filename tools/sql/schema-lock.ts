// The one server lock that serialises every change to a database's schema: migrations, campaign
// set creation/upgrade/retirement. Named per database because GET_LOCK is server-wide.
import { createHash } from 'crypto';
import { OperationError } from '../errors';
import { Connection, queryRows } from './connection';

const LOCK_PREFIX = 'reminderly_db.schema.';
/** GET_LOCK names are limited to 64 characters on MySQL 5.7+ and MariaDB. */
const MAX_LOCK_NAME = 64;

export function schemaLockName(database: string): string {
  const name = LOCK_PREFIX + database;
  if (name.length <= MAX_LOCK_NAME) return name;
  return LOCK_PREFIX + createHash('sha1').update(database).digest('hex').slice(0, MAX_LOCK_NAME - LOCK_PREFIX.length);
}

export const DEFAULT_LOCK_TIMEOUT_SECONDS = 120;

/**
 * Takes the schema lock on this connection, waiting up to timeoutSeconds. GET_LOCK returns 1
 * (taken), 0 (timed out) or NULL (error, e.g. killed): anything but 1 is a failure to report.
 */
export async function acquireSchemaLock(conn: Connection, database: string, timeoutSeconds = DEFAULT_LOCK_TIMEOUT_SECONDS,
  onWait?: (holder: number) => void): Promise<void> {
  const name = schemaLockName(database);
  const [free] = await queryRows<{ holder: number | null }>(conn, 'SELECT IS_USED_LOCK(?) AS holder', [name]);
  if (free.holder !== null && onWait) onWait(free.holder);
  const [row] = await queryRows<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, ?) AS got', [name, timeoutSeconds]);
  if (row.got === 1) return;
  if (row.got === 0) {
    throw new OperationError(`another run holds the schema lock "${name}" on ${database}; gave up after waiting ${timeoutSeconds} s (--lock-timeout to wait longer)`);
  }
  throw new OperationError(`could not take the schema lock "${name}" on ${database} (GET_LOCK returned NULL)`);
}

export async function releaseSchemaLock(conn: Connection, database: string): Promise<void> {
  await conn.query('SELECT RELEASE_LOCK(?)', [schemaLockName(database)]);
}

/** Whether some session holds the schema lock now (a run in progress). */
export async function schemaLockHolder(conn: Connection, database: string): Promise<number | null> {
  const [row] = await queryRows<{ holder: number | null }>(conn, 'SELECT IS_USED_LOCK(?) AS holder', [schemaLockName(database)]);
  return row.holder;
}

export async function withSchemaLock<T>(conn: Connection, database: string, timeoutSeconds: number | undefined,
  fn: () => Promise<T>, onWait?: (holder: number) => void): Promise<T> {
  await acquireSchemaLock(conn, database, timeoutSeconds, onWait);
  try {
    return await fn();
  } finally {
    await releaseSchemaLock(conn, database).catch(() => undefined);
  }
}
