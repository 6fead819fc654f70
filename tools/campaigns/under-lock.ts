// The CLI's way into a set change: the primary's connection, under the schema lock.
import { primaryTargetOf, TargetFlags } from '../cli-options';
import { UserError } from '../errors';
import { Connection, parseUrl, withConnection } from '../sql/connection';
import { DEFAULT_LOCK_TIMEOUT_SECONDS, withSchemaLock } from '../sql/schema-lock';

const log = (line: string) => process.stderr.write(line + '\n');

/** Every set change happens under the schema lock, like migrations, so they never interleave. */
export async function underSchemaLock<T>(flags: TargetFlags & { lockTimeout?: number }, what: string, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const { url } = await primaryTargetOf(flags, what);
  const database = parseUrl(url).database;
  if (!database) throw new UserError('the URL must name a database');
  return withConnection(url, (conn) => withSchemaLock(conn, database, flags.lockTimeout ?? DEFAULT_LOCK_TIMEOUT_SECONDS,
    () => fn(conn), (holder) => log(`waiting for the schema lock (held by connection ${holder})`)));
}
