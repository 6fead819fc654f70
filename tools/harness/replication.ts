// A primary and a read replica on this machine, for tests of replica routing and of the commands
// that must refuse a replica: two private servers (tools/harness/private-server.ts) with the binary
// log on the primary, read_only on the replica, and GTID-positioned replication between them.
// Nothing is shared with the test server; both directories go away with stop(), also on failure.
import crypto from 'crypto';
import { OperationError } from '../errors';
import { readReplicaStatus } from '../../bindings/replica-status';
import { queryRows, withConnection } from '../sql/connection';
import { replicationSql, ReplicationSql } from '../sql/flavour';
import { DEFAULT_BINARIES, PrivateServer, privateServerFlavour, startPrivateServer } from './private-server';

const PRIMARY_SERVER_ID = 1;
const REPLICA_SERVER_ID = 2;
const REPLICATION_USER = 'rdb_replication';
const DEFAULT_WAIT_SECONDS = 60;
const CONNECT_TIMEOUT_MS = 30_000;

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
  /** Extra options for the replica only, after `args`. */
  replicaArgs?: string[];
}

async function run(server: PrivateServer, ...statements: string[]): Promise<void> {
  await withConnection(server.url, async (conn) => {
    for (const statement of statements) await conn.query(statement);
  }, { database: null });
}

/** Starts a primary and a replica replicating from it, with nothing written yet. */
export async function startReplication(options: ReplicationOptions = {}): Promise<ReplicationPair> {
  const flavour = privateServerFlavour(options.binary);
  if (!flavour) throw new OperationError(`cannot start a primary and a replica: no ${options.binary ?? DEFAULT_BINARIES.join(' or ')} binary with its initialisation tool found`);
  const sql = replicationSql(flavour);
  const started: PrivateServer[] = [];
  const stopAll = async () => { await Promise.allSettled(started.map((s) => s.stop())); };
  const start = async (role: 'primary' | 'replica', serverId: number) => {
    const server = await startPrivateServer({ binary: options.binary, label: role, args: [...sql.serverArgs(role, serverId), ...(options.args ?? []), ...(role === 'replica' ? options.replicaArgs ?? [] : [])] });
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
    await waitUntilReplicating(pair);
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
 * startReplication, startReplica and setReplicaDelay return only once the threads run.
 */
export async function waitForReplica(pair: ReplicationPair, timeoutSeconds = DEFAULT_WAIT_SECONDS): Promise<void> {
  const [{ position }] = await withConnection(pair.primary.url, (conn) => queryRows<{ position: string }>(conn, pair.sql.primaryPosition), { database: null });
  await withConnection(pair.replica.url, async (conn) => {
    const status = await readReplicaStatus(conn);
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

/** After START SLAVE the receiver connects in the background: waits until both threads run. */
async function waitUntilReplicating(pair: Pick<ReplicationPair, 'replica'>): Promise<void> {
  await withConnection(pair.replica.url, async (conn) => {
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    for (;;) {
      const status = await readReplicaStatus(conn);
      if (status?.running) return;
      if (status?.lastError || Date.now() > deadline) {
        throw new OperationError(`replica on port ${pair.replica.port} did not start replicating${status?.lastError ? `: ${status.lastError}` : ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
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
  await waitUntilReplicating(pair);
}

/** Stops only the applier: the replica keeps receiving the primary's events but applies none. */
export async function stopApplier(pair: ReplicationPair): Promise<void> {
  await run(pair.replica, pair.sql.stopApplier);
}

/** Makes the replica apply every event `seconds` after the primary wrote it (0: as soon as it can). */
export async function setReplicaDelay(pair: ReplicationPair, seconds: number): Promise<void> {
  await run(pair.replica, pair.sql.stop, pair.sql.setDelay(seconds), pair.sql.start);
  await waitUntilReplicating(pair);
}
