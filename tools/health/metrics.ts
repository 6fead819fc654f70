// Reads the health metrics from the server: per campaign through the health_campaigns routine
// (indexed, plan-checked; procedures/health_campaigns.sql says what each count is read from), per
// server here: log and history table sizes, the age of the oldest unrotated log row, the last
// maintenance runs, and the lag of each configured replica.
//
// The server part stays in TypeScript because it walks the catalogue (which log tables exist,
// rotated or live: the naming of rotated tables lives in tools/maintenance/log-tables.ts only) and
// connects to other servers (replicas); every statement it runs is O(1) per table: catalogue reads
// filtered by the constant schema, MIN(logged_at) answered from the logged_at index, and the
// latest maintenance_runs row per step by ix_maintenance_runs_step_started.
import { readReplicaStatus } from '../../bindings/replica-status';
import { connect, Connection, queryRows, quoteIdentifier, redactUrl } from '../sql/connection';
import { isLiveLogTable, LOG_TIME_COLUMN, parseRotatedTableName, RotatedTable } from '../maintenance/log-tables';
import { latestRun, MAINTENANCE_STEPS, MaintenanceStep } from '../maintenance/runs';

export interface CampaignMetrics {
  campaignId: number;
  name: string;
  state: string;
  /** Claimable now, held by nobody. */
  ready: number;
  /** Held by batches whose lease runs. */
  claimed: number;
  /** Finished by completed batches (released ones and failures retried excluded), history included. */
  completed: number;
  sent: number;
  /** Failures with no retry left. */
  failed: number;
  /** Failed tries scheduled for a retry. */
  retried: number;
  /** visible_at of the oldest claimable entry (ISO, UTC), null when none. */
  oldestReadyAt: string | null;
  oldestReadySeconds: number | null;
  leasesOpen: number;
  /** Batches whose lease ran out while they still hold messages. */
  leasesExpired: number;
  expiredLeaseMessages: number;
  claimedInWindow: number;
  batchesInWindow: number;
  /** claimedInWindow / window minutes. */
  claimRatePerMinute: number;
}

export interface LogTableMetrics {
  table: string;
  /** The live table it came from (itself when live). */
  base: string;
  rotated: boolean;
  /** Row and size estimates from information_schema.TABLES (InnoDB statistics, not exact). */
  rowsEstimate: number;
  bytes: number;
  /** Live tables only: the oldest row not rotated yet, and its age; null when empty or rotated. */
  oldestRowAt: string | null;
  oldestRowSeconds: number | null;
}

export interface HistoryTableMetrics {
  /** batches_history, or a campaign table kind such as campaign_N_messages_history (summed over campaigns). */
  kind: string;
  tables: number;
  rowsEstimate: number;
  bytes: number;
}

export interface ReplicaMetrics {
  /** The URL, password masked. */
  replica: string;
  reachable: boolean;
  /** A replica (SHOW REPLICA STATUS has a row) with both threads running. */
  running: boolean;
  lagSeconds: number | null;
  source: string | null;
  /** Why it is not healthy: connection error, "not a replica", the last replication error. */
  error: string | null;
}

export interface MaintenanceRunMetrics {
  step: string;
  startedAt: string;
  finishedAt: string | null;
  /** null: still running, or killed before it recorded its end. */
  ok: boolean | null;
  detail: string | null;
  /** While no end is recorded: seconds since the start (server clock); a killed step keeps growing it. */
  unfinishedSeconds?: number | null;
}

export interface ServerMetrics {
  database: string;
  measuredAt: string;
  logTables: LogTableMetrics[];
  historyTables: HistoryTableMetrics[];
  replicas: ReplicaMetrics[];
  /** The latest run of each maintenance step, null when the step never ran. */
  maintenance: Record<MaintenanceStep, MaintenanceRunMetrics | null>;
}

export interface HealthMetrics {
  windowMinutes: number;
  server: ServerMetrics;
  campaigns: CampaignMetrics[];
}


type Row = Record<string, unknown>;

const iso = (value: unknown): string | null => (value instanceof Date ? value.toISOString() : value === null || value === undefined ? null : String(value));
const num = (value: unknown): number => Number(value ?? 0);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export async function readCampaignMetrics(conn: Connection, windowMinutes: number, campaignId: number | null = null): Promise<CampaignMetrics[]> {
  const [sets] = await conn.query('CALL health_campaigns(?, ?)', [campaignId, windowMinutes]) as unknown as [Row[][]];
  return sets[0].map((r) => ({
    campaignId: num(r.campaign_id),
    name: String(r.name),
    state: String(r.state),
    ready: num(r.ready),
    claimed: num(r.claimed),
    completed: num(r.completed),
    sent: num(r.sent),
    failed: num(r.failed),
    retried: num(r.retried),
    oldestReadyAt: iso(r.oldest_ready_at),
    oldestReadySeconds: numOrNull(r.oldest_ready_seconds),
    leasesOpen: num(r.leases_open),
    leasesExpired: num(r.leases_expired),
    expiredLeaseMessages: num(r.expired_lease_messages),
    claimedInWindow: num(r.claimed_in_window),
    batchesInWindow: num(r.batches_in_window),
    claimRatePerMinute: Math.round((num(r.claimed_in_window) / windowMinutes) * 100) / 100,
  }));
}

async function tableSizes(conn: Connection, pattern: string): Promise<Map<string, { rows: number; bytes: number }>> {
  // Always the constant schema filter: see tools/maintenance/log-tables.ts on the MariaDB crash.
  const rows = await queryRows<Row>(conn,
    `SELECT TABLE_NAME AS name, TABLE_ROWS AS est_rows, DATA_LENGTH + INDEX_LENGTH AS bytes FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME LIKE ?`, [pattern]);
  return new Map(rows.map((r) => [String(r.name), { rows: num(r.est_rows), bytes: num(r.bytes) }]));
}

/**
 * The log tables are listed from information_schema.TABLES by name, and told live from rotated by
 * log-tables.ts's naming; not by its liveLogTables/rotatedLogTables, whose information_schema.COLUMNS
 * read (every table carrying logged_at) took ~0.7 s of a 2.5 s run over 1,000 campaigns' 9,000 tables.
 */
export async function readLogTableMetrics(conn: Connection): Promise<LogTableMetrics[]> {
  const sizes = await tableSizes(conn, 'log\\_%');
  const size = (table: string) => sizes.get(table) ?? { rows: 0, bytes: 0 };
  const names = [...sizes.keys()].sort();
  const result: LogTableMetrics[] = [];
  for (const table of names.filter(isLiveLogTable)) {
    // MIN over the logged_at index: one index dive ("Select tables optimized away").
    const [oldest] = await queryRows<Row>(conn,
      `SELECT MIN(${LOG_TIME_COLUMN}) AS oldest, TIMESTAMPDIFF(SECOND, MIN(${LOG_TIME_COLUMN}), NOW(3)) AS age FROM ${quoteIdentifier(table)}`);
    result.push({
      table, base: table, rotated: false, rowsEstimate: size(table).rows, bytes: size(table).bytes,
      oldestRowAt: iso(oldest.oldest), oldestRowSeconds: numOrNull(oldest.age),
    });
  }
  for (const rotated of names.map(parseRotatedTableName).filter((r): r is RotatedTable => r !== null)) {
    result.push({
      table: rotated.table, base: rotated.base, rotated: true, rowsEstimate: size(rotated.table).rows, bytes: size(rotated.table).bytes,
      oldestRowAt: null, oldestRowSeconds: null,
    });
  }
  return result;
}

/**
 * Sizes of every history table. With 1,000 campaigns there are 4,000 of them, and
 * information_schema.TABLES opens each one to read its statistics (seconds, and it churns the
 * table cache); InnoDB's persistent statistics (mysql.innodb_table_stats, on by default on both
 * servers) hold the same estimates in one small table keyed by (database_name, table_name). A
 * user without SELECT on it gets the information_schema estimates instead.
 */
async function historyTableSizes(conn: Connection): Promise<Map<string, { rows: number; bytes: number }>> {
  try {
    const rows = await queryRows<Row>(conn,
      `SELECT s.table_name AS name, s.n_rows AS est_rows, (s.clustered_index_size + s.sum_of_other_index_sizes) * @@innodb_page_size AS bytes
         FROM mysql.innodb_table_stats s WHERE s.database_name = DATABASE() AND s.table_name LIKE ?`, ['%\\_history']);
    return new Map(rows.map((r) => [String(r.name), { rows: num(r.est_rows), bytes: num(r.bytes) }]));
  } catch (err) {
    if ((err as { errno?: number }).errno !== 1142) throw err;
    return tableSizes(conn, '%\\_history');
  }
}

export async function readHistoryTableMetrics(conn: Connection): Promise<HistoryTableMetrics[]> {
  const byKind = new Map<string, HistoryTableMetrics>();
  for (const [table, size] of await historyTableSizes(conn)) {
    const kind = table.replace(/^campaign_\d+_/, 'campaign_N_');
    const entry = byKind.get(kind) ?? { kind, tables: 0, rowsEstimate: 0, bytes: 0 };
    entry.tables += 1;
    entry.rowsEstimate += size.rows;
    entry.bytes += size.bytes;
    byKind.set(kind, entry);
  }
  return [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

export async function readMaintenanceRuns(conn: Connection): Promise<Record<MaintenanceStep, MaintenanceRunMetrics | null>> {
  const runs = {} as Record<MaintenanceStep, MaintenanceRunMetrics | null>;
  for (const step of MAINTENANCE_STEPS) {
    const last = await latestRun(conn, step);
    runs[step] = last ? {
      step, startedAt: iso(last.startedAt)!, finishedAt: iso(last.finishedAt),
      ok: last.ok === null ? null : last.ok === 1, detail: last.detail === null ? null : String(last.detail),
      unfinishedSeconds: last.unfinishedSeconds,
    } : null;
  }
  return runs;
}

/** Connects to each replica on its own; a replica that cannot be read is reported, never thrown. */
export async function readReplicaMetrics(urls: string[]): Promise<ReplicaMetrics[]> {
  return Promise.all(urls.map(async (url): Promise<ReplicaMetrics> => {
    const replica = redactUrl(url);
    let conn: Connection;
    try {
      conn = await connect(url);
    } catch (err) {
      return { replica, reachable: false, running: false, lagSeconds: null, source: null, error: (err as Error).message };
    }
    try {
      const status = await readReplicaStatus(conn);
      if (!status) return { replica, reachable: true, running: false, lagSeconds: null, source: null, error: 'not a replica (SHOW REPLICA STATUS is empty)' };
      return {
        replica, reachable: true, running: status.running, lagSeconds: status.lagSeconds, source: status.source,
        error: status.running ? null : status.lastError || 'replication threads stopped',
      };
    } catch (err) {
      return { replica, reachable: true, running: false, lagSeconds: null, source: null, error: (err as Error).message };
    } finally {
      await conn.end().catch(() => conn.destroy());
    }
  }));
}

export async function readServerMetrics(conn: Connection, replicaUrls: string[]): Promise<ServerMetrics> {
  const [{ db, now }] = await queryRows<Row>(conn, 'SELECT DATABASE() AS db, NOW(3) AS now');
  return {
    database: String(db),
    measuredAt: iso(now)!,
    logTables: await readLogTableMetrics(conn),
    historyTables: await readHistoryTableMetrics(conn),
    replicas: await readReplicaMetrics(replicaUrls),
    maintenance: await readMaintenanceRuns(conn),
  };
}

export async function readHealthMetrics(conn: Connection, options: { windowMinutes: number; replicaUrls: string[] }): Promise<HealthMetrics> {
  return {
    windowMinutes: options.windowMinutes,
    server: await readServerMetrics(conn, options.replicaUrls),
    campaigns: await readCampaignMetrics(conn, options.windowMinutes),
  };
}
