// Where a server stands as a replica (hand-written, part of the bindings' runtime): the one place
// that reads SHOW REPLICA STATUS, for the runtime's read routing and for `reminderly-db health`.
// MariaDB (10.5.1+) and MySQL (8.0.22+) both accept SHOW REPLICA STATUS; their columns differ
// (MariaDB: Seconds_Behind_Master, Slave_*_Running; MySQL: Seconds_Behind_Source, Replica_*_Running).
import type { Connection, Pool, PoolConnection } from 'mysql2/promise';

export interface ReplicaStatus {
  /** Both replication threads run. */
  running: boolean;
  /** Seconds the replica's applier is behind its primary; null when the server cannot tell (a thread stopped). */
  lagSeconds: number | null;
  /** The primary's host:port as the replica knows it. */
  source: string;
  /** The last replication error, '' when none. */
  lastError: string;
}

function column(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const name of names) if (name in row) return row[name];
  return undefined;
}

/** The server's replica status, or null when it is not a replica (no replication configured). */
export async function readReplicaStatus(db: Connection | PoolConnection | Pool): Promise<ReplicaStatus | null> {
  const [rows] = await db.query({ sql: 'SHOW REPLICA STATUS', rowsAsArray: false });
  const list = rows as Record<string, unknown>[];
  if (list.length === 0) return null;
  const row = list[0];
  const io = String(column(row, 'Replica_IO_Running', 'Slave_IO_Running') ?? 'No');
  const sql = String(column(row, 'Replica_SQL_Running', 'Slave_SQL_Running') ?? 'No');
  const lag = column(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master');
  const host = String(column(row, 'Source_Host', 'Master_Host') ?? '');
  const port = String(column(row, 'Source_Port', 'Master_Port') ?? '');
  const errors = [column(row, 'Last_IO_Error'), column(row, 'Last_SQL_Error')].map((e) => String(e ?? '')).filter((e) => e !== '');
  return {
    running: io === 'Yes' && sql === 'Yes',
    lagSeconds: lag === null || lag === undefined || lag === '' ? null : Number(lag),
    source: port ? `${host}:${port}` : host,
    lastError: errors.join('; '),
  };
}
