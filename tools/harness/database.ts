// Throwaway databases for tests, demos and verification restores: unique names, always dropped,
// and leftovers of killed runs cleaned up on the next run.
import { connect, Connection, DEFAULT_SERVER_URL, parseUrl, quoteIdentifier, withConnection, withDatabase } from '../sql/connection';

/** Every throwaway database starts with this prefix; nothing else on a server is ever dropped by the harness. */
export const THROWAWAY_PREFIX = 'rdbt_';

/**
 * The server tests run against: MYSQL_URL, else @databases/mysql-test's DATABASE_URL, else the
 * local default server. Any database named in the URL is ignored: tests never touch it.
 */
export function testServerUrl(): string {
  const url = process.env.MYSQL_URL || process.env.DATABASE_URL || DEFAULT_SERVER_URL;
  return withDatabase(url, null);
}

/** rdbt_<seconds since epoch, base 36>_<pid>_<random>: sortable by age, tied to the process that made it. */
export function throwawayName(label = ''): string {
  const stamp = Math.floor(Date.now() / 1000).toString(36);
  const random = Math.random().toString(36).slice(2, 8);
  const tag = label.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16);
  return `${THROWAWAY_PREFIX}${stamp}_${process.pid}_${random}${tag ? '_' + tag : ''}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Leftovers are databases whose creating process is gone, or older than a day whoever made them. */
export function isStale(name: string, nowSeconds = Date.now() / 1000): boolean {
  const match = /^rdbt_([0-9a-z]+)_(\d+)_/.exec(name);
  if (!match) return false;
  const createdAt = parseInt(match[1], 36);
  const pid = Number(match[2]);
  if (nowSeconds - createdAt > 86_400) return true;
  return pid !== process.pid && !processAlive(pid);
}

export async function dropStaleThrowaways(serverUrl = testServerUrl()): Promise<string[]> {
  return withConnection(serverUrl, async (conn) => {
    const [rows] = await conn.query("SHOW DATABASES LIKE 'rdbt\\_%'");
    const names = (rows as Record<string, string>[]).map((r) => Object.values(r)[0]).filter((n) => isStale(n));
    for (const name of names) await conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
    return names;
  }, { database: null });
}

export interface ThrowawayDatabase {
  name: string;
  /** URL of the throwaway database itself. */
  url: string;
  serverUrl: string;
  connect(): Promise<Connection>;
  drop(): Promise<void>;
}

export interface ThrowawayOptions {
  /**
   * The database's default collation (its character set follows from it), e.g. 'utf8mb4_bin'.
   * Unset, the database gets the server's default, as a plain CREATE DATABASE by a DBA does
   * (utf8mb4_general_ci on MariaDB 10.11, utf8mb4_0900_ai_ci on MySQL 9): the schema must not
   * depend on it, and tests would hide it if every database had the schema's own collation.
   */
  collation?: string;
}

/** Names as the server spells them: letters, digits and underscores (also refused by quoting). */
function collationClause(collation: string | undefined): string {
  if (collation === undefined) return '';
  if (!/^[a-z0-9_]+$/i.test(collation)) throw new Error(`not a collation name: ${JSON.stringify(collation)}`);
  return ` COLLATE ${collation}`;
}

export async function createThrowawayDatabase(label = '', serverUrl = testServerUrl(), options: ThrowawayOptions = {}): Promise<ThrowawayDatabase> {
  parseUrl(serverUrl);
  const name = throwawayName(label);
  const clause = collationClause(options.collation);
  await withConnection(serverUrl, (conn) =>
    conn.query(`CREATE DATABASE ${quoteIdentifier(name)}${clause}`), { database: null });
  const url = withDatabase(serverUrl, name);
  return {
    name,
    url,
    serverUrl,
    connect: () => connect(url),
    drop: () => withConnection(serverUrl, async (conn) => {
      await conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
    }, { database: null }),
  };
}
