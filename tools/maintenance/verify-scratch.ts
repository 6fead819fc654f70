// The scratch schema a verification restores a dump into: one fixed name per database,
// `<database>_verify`, so `users apply` can grant it to the migrator once and the least-privilege
// migrator can run `maintenance run` and `campaign retire` (it may not create arbitrary databases,
// such as the harness's rdbt_* throwaways). Each verification creates it empty, restores, compares
// and drops it again, under a server lock, so two verifications of one database never share it.
import { createHash } from 'crypto';
import { OperationError, UserError } from '../errors';
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';

export const VERIFY_SUFFIX = '_verify';
/** MySQL and MariaDB limit database names to 64 characters. */
const MAX_DATABASE_NAME = 64;
const LOCK_PREFIX = 'reminderly_db.verify.';
const MAX_LOCK_NAME = 64;
/** A verification restores one dump; waiting longer than this means another one is stuck. */
export const VERIFY_LOCK_TIMEOUT_SECONDS = 600;

/** `<database>_verify`; refused when that would be longer than a database name may be. */
export function verifyScratchName(database: string): string {
  const name = database + VERIFY_SUFFIX;
  if (name.length > MAX_DATABASE_NAME) {
    throw new UserError(`database name ${database} is too long for its verification schema ${name} (at most ${MAX_DATABASE_NAME - VERIFY_SUFFIX.length} characters)`);
  }
  return name;
}

export function verifyLockName(database: string): string {
  const name = LOCK_PREFIX + database;
  if (name.length <= MAX_LOCK_NAME) return name;
  return LOCK_PREFIX + createHash('sha1').update(database).digest('hex').slice(0, MAX_LOCK_NAME - LOCK_PREFIX.length);
}

/**
 * Runs fn with `<database>_verify` freshly created (empty, with the source's character set and
 * collation) and holding the verification lock; drops the schema and releases the lock afterwards,
 * also when fn fails. A schema of that name left by a killed run is dropped first: nothing but a
 * verification ever lives there.
 */
export async function withVerifyScratch<T>(conn: Connection, database: string, fn: (scratch: string) => Promise<T>): Promise<T> {
  const scratch = verifyScratchName(database);
  const lock = verifyLockName(database);
  const [got] = await queryRows<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, ?) AS got', [lock, VERIFY_LOCK_TIMEOUT_SECONDS]);
  if (got.got !== 1) {
    throw new OperationError(`could not take the verification lock "${lock}" on ${database} (another verification runs; waited ${VERIFY_LOCK_TIMEOUT_SECONDS} s)`);
  }
  try {
    const [source] = await queryRows<{ charset: string; collation: string }>(conn,
      'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
    // Names read from the catalogue are pasted only when they are plain names.
    const plainName = (n: string | undefined) => typeof n === 'string' && /^[A-Za-z0-9_]+$/.test(n);
    const defaults = source && plainName(source.charset) && plainName(source.collation)
      ? ` CHARACTER SET ${source.charset} COLLATE ${source.collation}` : '';
    await dropScratch(conn, scratch, database);
    try {
      await conn.query(`CREATE DATABASE ${quoteIdentifier(scratch)}${defaults}`);
    } catch (err) {
      throw new OperationError(`could not create the verification schema ${scratch}: ${(err as Error).message} (run \`reminderly-db users apply\`: it grants the migrator ${scratch})`);
    }
    try {
      return await fn(scratch);
    } finally {
      await dropScratch(conn, scratch, database).catch(() => undefined);
    }
  } finally {
    await conn.query('SELECT RELEASE_LOCK(?)', [lock]).catch(() => undefined);
  }
}

async function dropScratch(conn: Connection, scratch: string, database: string): Promise<void> {
  if (scratch === database) throw new Error(`refusing to drop ${scratch}: it is the source database`);
  await conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)}`);
}
