// A primary and a read replica on this machine, for tests of replica routing and of the commands
// that must refuse a replica: two private servers (tools/harness/private-server.ts) with the binary
// log on the primary, read_only on the replica, and GTID-positioned replication between them.
// Nothing is shared with the test server; both directories go away with stop(), also on failure.
import crypto from 'crypto';
import { OperationError } from '../errors';
import { readReplicaStatus } from '../../bindings/replica-status';
import { queryRows, withConnection } from '../sql/connection';
import { replicationSql, ReplicationSql } from '../sql/flavour';
import { PrivateServer, privateServerFlavour, startPrivateServer } from './private-server';

const PRIMARY_SERVER_ID = 1;
const REPLICA_SERVER_ID = 2;
const REPLICATION_USER = 'rdb_replication';
const DEFAULT_WAIT_SECONDS = 60;
const CONNECT_GRACE_MS = 10_000;

export interface ReplicationPair {
  primary: PrivateServer;
  replica: PrivateServer;
  /** The statements of the servers' flavour (both servers run the same binary). */
  sql: ReplicationSql;
  /** Shuts both servers down and removes both directories; calling it again does nothing. */
  stop(): Promise<void>;
}

export interface ReplicationOptions {
  /** Server binary for both servers (default: mariadbd, else mysqld). */
  binary?: string;
  /** Extra options for both servers. */
  args?: string[];
}

async function run(server: PrivateServer, ...statements: string[]): Promise<void> {
  await withConnection(server.url, async (conn) => {
    for (const statement of statements) await conn.query(statement);
  }, { database: null });
}

/** Starts a primary and a replica replicating from it, with nothing written yet. */
export async function startReplication(options: ReplicationOptions = {}): Promise<ReplicationPair> {
  const flavour = privateServerFlavour(options.binary);
  if (!flavour) throw new OperationError(`cannot start a primary and a replica: no ${options.binary ?? 'mariadbd or mysqld'} binary with its initialisation tool found`);
  const sql = replicationSql(flavour);
  const started: PrivateServer[] = [];
  const stopAll = async () => { await Promise.allSettled(started.map((s) => s.stop())); };
  const start = async (role: 'primary' | 'replica', serverId: number) => {
    const server = await startPrivateServer({ binary: options.binary, label: role, args: [...sql.serverArgs(role, serverId), ...(options.args ?? [])] });
    started.push(server);
    return server;
  };
  try {
    const both = await Promise.allSettled([start('primary', PRIMARY_SERVER_ID), start('replica', REPLICA_SERVER_ID)]);
    const failed = both.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [primary, replica] = both.map((s) => (s as PromiseFulfilledResult<PrivateServer>).value);
    const password = crypto.randomBytes(12).toString('hex');
    // The replication user exists on the primary only: kept out of the binary log.
    await run(primary,
      'SET SESSION sql_log_bin = 0',
      `CREATE USER '${REPLICATION_USER}'@'127.0.0.1' IDENTIFIED BY '${password}'`,
      `GRANT REPLICATION SLAVE ON *.* TO '${REPLICATION_USER}'@'127.0.0.1'`);
    await run(replica, sql.changeSource({ host: '127.0.0.1', port: primary.port, user: REPLICATION_USER, password }), sql.start);
    const pair: ReplicationPair = { primary, replica, sql, stop: stopAll };
    await waitForReplica(pair);
    return pair;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Waits until the replica has applied everything the primary has written so far (GTID positions).
 * Fails at once when the replica's threads do not run (it would never catch up), with its last error.
 */
export async function waitForReplica(pair: ReplicationPair, timeoutSeconds = DEFAULT_WAIT_SECONDS): Promise<void> {
  const [{ position }] = await withConnection(pair.primary.url, (conn) => queryRows<{ position: string }>(conn, pair.sql.primaryPosition), { database: null });
  await withConnection(pair.replica.url, async (conn) => {
    // Just after START SLAVE the receiver is still connecting: give it a moment before calling it stopped.
    const connectDeadline = Date.now() + CONNECT_GRACE_MS;
    let status = await readReplicaStatus(conn);
    while (!status?.running && !status?.lastError && Date.now() < connectDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await readReplicaStatus(conn);
    }
    if (!status?.running) {
      throw new OperationError(`replica on port ${pair.replica.port} is not replicating${status?.lastError ? `: ${status.lastError}` : ''}`);
    }
    const [{ waited }] = await queryRows<{ waited: number | string | null }>(conn, pair.sql.waitForPosition, [position, timeoutSeconds]);
    if (Number(waited) !== 0) {
      const after = await readReplicaStatus(conn);
      throw new OperationError(`replica on port ${pair.replica.port} did not apply GTID ${position} within ${timeoutSeconds} s` +
        `${after?.lastError ? `: ${after.lastError}` : ''}`);
    }
  }, { database: null });
}

/** Stops both replication threads (the replica keeps its data and its replica status). */
export async function stopReplica(pair: ReplicationPair): Promise<void> {
  await run(pair.replica, pair.sql.stop);
}

/** Starts both replication threads again. */
export async function startReplica(pair: ReplicationPair): Promise<void> {
  await run(pair.replica, pair.sql.start);
}

/** Stops only the applier: the replica keeps receiving the primary's events but applies none. */
export async function stopApplier(pair: ReplicationPair): Promise<void> {
  await run(pair.replica, pair.sql.stopApplier);
}

/** Makes the replica apply every event `seconds` after the primary wrote it (0: as soon as it can). */
export async function setReplicaDelay(pair: ReplicationPair, seconds: number): Promise<void> {
  await run(pair.replica, pair.sql.stop, pair.sql.setDelay(seconds), pair.sql.start);
}

/**
 * Mocha helper: a primary and a replica for the enclosing describe(), started in before() and
 * stopped in after() whether or not the tests passed. The returned object is filled in by before().
 */
export function useReplication(options: ReplicationOptions = {}): ReplicationPair {
  const handle = {} as ReplicationPair;
  before(async function () {
    this.timeout(240_000);
    Object.assign(handle, await startReplication(options));
  });
  after(async function () {
    this.timeout(90_000);
    if (handle.stop) await handle.stop();
  });
  return handle;
}
