// A primary and a read replica (tools/harness/replication.ts) with the project's schema migrated
// on the primary and replicated, for the replica specs. One pair per spec file.
import mysql from 'mysql2/promise';
import { testServerUrl } from '../../tools/harness/database';
import { migrateDatabase } from '../../tools/harness/migrated';
import { serverSupportsPrivateStart } from '../../tools/harness/private-server';
import { ReplicationPair, waitForReplica } from '../../tools/harness/replication';
import { parseUrl, queryRows, withConnection, withDatabase } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { useReplication } from '../../tools/harness/mocha';

export const DATABASE = 'reminderly_repl';

export interface ReplicatedDatabase {
  pair: ReplicationPair;
  /** The migrated database on the primary, and the same database on the replica. */
  primaryUrl: string;
  replicaUrl: string;
}

/**
 * Why the replica specs run in the MariaDB leg only: the private servers are started from this
 * machine's server binary, which is MariaDB's mariadbd in both CI legs (MySQL 9.7 runs inside a
 * chroot its binary cannot leave), so the MySQL leg would run the very same MariaDB pair again.
 * The MySQL statements (CHANGE REPLICATION SOURCE TO, START REPLICA, GTID sets) are in
 * tools/sql/flavour.ts, and readReplicaStatus reads MySQL's column names, but no MySQL pair is tested.
 */
export const MYSQL_SKIP_REASON = 'replica specs run in the MariaDB leg only: the private primary and replica are mariadbd in both legs (see test/replicas/helpers.ts)';

/** Mocha helper: skips the enclosing describe() where no pair can be tested, else starts and migrates one. */
export function useReplicatedDatabase(): ReplicatedDatabase {
  const handle = {} as ReplicatedDatabase;
  before(async function () {
    const server = await withConnection(testServerUrl(), detectServer, { database: null });
    if (server.flavour === 'mysql') {
      console.log(`      skipped: ${MYSQL_SKIP_REASON}`);
      this.skip();
    }
    if (!serverSupportsPrivateStart()) {
      console.log('      skipped: no mariadbd with mariadb-install-db on this machine');
      this.skip();
    }
  });
  const pair = useReplication();
  before(async function () {
    this.timeout(180_000);
    handle.pair = pair;
    handle.primaryUrl = withDatabase(pair.primary.url, DATABASE);
    handle.replicaUrl = withDatabase(pair.replica.url, DATABASE);
    await withConnection(pair.primary.url, (conn) => conn.query(`CREATE DATABASE ${DATABASE}`), { database: null });
    await migrateDatabase(handle.primaryUrl);
    await waitForReplica(pair);
  });
  return handle;
}

/** A mysql2 pool as an application would make one, with the session settings the bindings expect. */
export function applicationPool(url: string): mysql.Pool {
  const u = parseUrl(url);
  const pool = mysql.createPool({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database!, connectionLimit: 2, timezone: 'Z' });
  pool.on('connection', (conn) => { conn.query("SET time_zone = '+00:00'"); });
  return pool;
}

/** A global status counter of a server, e.g. Com_call_procedure (CALLs its clients sent). */
export async function statusCounter(serverUrl: string, name: string): Promise<number> {
  const [row] = await withConnection(serverUrl, (conn) => queryRows<{ Value: string }>(conn, `SHOW GLOBAL STATUS LIKE '${name}'`), { database: null });
  return Number(row.Value);
}
