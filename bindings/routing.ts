// Read routing for the bindings (hand-written, part of the bindings' runtime): a Router stands in
// for `db` in any binding call and sends a read-only routine (READS SQL DATA / NO SQL, the binding's
// `.readOnly`) to a healthy replica and everything else to the primary. A replica is healthy while
// both its replication threads run and its lag is within maxLagSeconds; its status is read with
// readReplicaStatus at most once per lagCheckIntervalMs. A read never fails because of a replica: a
// replica that is down, stopped or lagging sends reads to the primary, and a connection error during
// a read-only call on a replica retries that call on the primary (a read-only routine is safe to repeat).
import type { Connection, Pool, PoolConnection } from 'mysql2/promise';
import { readReplicaStatus, ReplicaStatus } from './replica-status';

/** A mysql2/promise connection, pool connection or pool (the runtime's Db). */
type Db = Connection | PoolConnection | Pool;

export type Route = 'primary' | 'replica';

/** The last argument of every binding. */
export interface CallOptions {
  /**
   * 'primary' sends the call to the primary whatever the routine (read-your-writes); 'replica' asks
   * for a replica and is refused for a routine that may write. Default: the routine's own route.
   * Only a Router routes: with a plain connection or pool the call goes where `db` points.
   */
  route?: Route;
  /** The lag this call accepts from a replica, instead of the router's maxLagSeconds. */
  maxLagSeconds?: number;
}

/** What the router needs to know about a routine: the generated spec and every binding carry both. */
export interface RoutedRoutine {
  name?: string;
  routine?: string;
  readOnly?: boolean;
}

export interface RouterOptions {
  /** Where writes, and reads without a healthy replica, go. */
  primary: Db;
  /** Read replicas of that primary; pools, so that a replica restarting does not leave a dead connection. */
  replicas?: Db[];
  /** Reads go to a replica only while it is at most this many seconds behind (default 10). */
  maxLagSeconds?: number;
  /** How long a replica's measured status is reused before it is read again (default 1000 ms). */
  lagCheckIntervalMs?: number;
  /** A status check slower than this counts as a failed check (default 2000 ms). */
  statusTimeoutMs?: number;
  /** Told whenever a call that could go to a replica goes to the primary instead, and why. */
  onFallback?: (event: FallbackEvent) => void;
}

export interface FallbackEvent {
  routine: string;
  /** Why no replica took the call: one reason per replica, or that none is configured. */
  reason: string;
}

/** One replica as the router last measured it. */
export interface ReplicaHealth {
  index: number;
  healthy: boolean;
  /** 'ok', or why reads avoid it: 'replication stopped', 'lag 12 s > 10 s', 'status check failed: ...'. */
  reason: string;
  status: ReplicaStatus | null;
  /** Date.now() of the measurement. */
  checkedAt: number;
}

/** Where one call goes. */
export interface RouteChoice {
  route: Route;
  db: Db;
  /** The replica's position in `replicas`, null for the primary. */
  replicaIndex: number | null;
  /** For a read sent to the primary: why no replica took it. */
  fallbackReason: string | null;
}

/** How many calls went where, since the router was created. */
export interface RouterCounters {
  primary: number;
  replica: number;
  /** Read-only calls that went to the primary because no replica was healthy. */
  fallbacks: number;
  /** Read-only calls retried on the primary after a connection error on a replica. */
  retries: number;
}

/** A call routed to a replica that the router cannot send there (a routine that may write). */
export class RouteError extends Error {
  override readonly name = 'RouteError';
  constructor(readonly routine: string, message: string) {
    super(`${routine}: ${message}`);
  }
}

export const DEFAULT_MAX_LAG_SECONDS = 10;
export const DEFAULT_LAG_CHECK_INTERVAL_MS = 1000;
export const DEFAULT_STATUS_TIMEOUT_MS = 2000;

const ROUTER = Symbol.for('reminderly-db.router');

/** The route a binding's calls take by default, or with these options, before replica health is known. */
export function routeOf(binding: RoutedRoutine, options: CallOptions = {}): Route {
  return options.route ?? (binding.readOnly ? 'replica' : 'primary');
}

/** A replica's measured status as a verdict for reads that accept maxLagSeconds of lag (pure). */
export function judgeReplica(measured: ReplicaStatus | null | Error, maxLagSeconds: number): { healthy: boolean; reason: string } {
  if (measured instanceof Error) return { healthy: false, reason: `status check failed: ${measured.message}` };
  if (measured === null) return { healthy: false, reason: 'not a replica (no replication configured)' };
  if (!measured.running) return { healthy: false, reason: `replication stopped${measured.lastError ? `: ${measured.lastError}` : ''}` };
  if (measured.lagSeconds === null) return { healthy: false, reason: 'lag unknown' };
  if (measured.lagSeconds > maxLagSeconds) return { healthy: false, reason: `lag ${measured.lagSeconds} s > ${maxLagSeconds} s` };
  return { healthy: true, reason: 'ok' };
}

/** The replica the next read goes to: the first healthy one at or after `start`, round-robin (pure). */
export function chooseReplica(health: readonly Pick<ReplicaHealth, 'healthy'>[], start: number): number | null {
  for (let k = 0; k < health.length; k++) {
    const i = (start + k) % health.length;
    if (health[i].healthy) return i;
  }
  return null;
}

/** Errors after which the connection (not the statement) is what failed: the call may go elsewhere. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', 'POOL_CLOSED',
]);
/** 1053 server shutdown, 1927 connection killed (MariaDB), 2002/2003/2006/2013 client-side connection losses. */
const CONNECTION_ERRNOS = new Set([1053, 1927, 2002, 2003, 2006, 2013]);

export function isConnectionError(err: unknown): boolean {
  const e = err as { fatal?: boolean; code?: string; errno?: number; message?: string } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.fatal === true) return true;
  if (e.code && CONNECTION_ERROR_CODES.has(e.code)) return true;
  if (e.errno && CONNECTION_ERRNOS.has(e.errno)) return true;
  // mysql2's message for a command on a connection that already closed carries no code.
  return /connection is in closed state|Pool is closed/i.test(e.message ?? '');
}

interface Measurement {
  measured: ReplicaStatus | Error | null;
  checkedAt: number;
}

export class Router {
  readonly [ROUTER] = true;
  readonly primary: Db;
  readonly replicas: readonly Db[];
  readonly maxLagSeconds: number;
  readonly lagCheckIntervalMs: number;
  readonly statusTimeoutMs: number;
  readonly counters: RouterCounters = { primary: 0, replica: 0, fallbacks: 0, retries: 0 };
  private readonly onFallback?: (event: FallbackEvent) => void;
  private readonly measurements: (Measurement | undefined)[];
  private readonly checks: (Promise<Measurement> | undefined)[];
  private next = 0;

  constructor(options: RouterOptions) {
    if (!options?.primary) throw new TypeError('createRouter: primary is required');
    this.primary = options.primary;
    this.replicas = [...(options.replicas ?? [])];
    this.maxLagSeconds = options.maxLagSeconds ?? DEFAULT_MAX_LAG_SECONDS;
    this.lagCheckIntervalMs = options.lagCheckIntervalMs ?? DEFAULT_LAG_CHECK_INTERVAL_MS;
    this.statusTimeoutMs = options.statusTimeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS;
    this.onFallback = options.onFallback;
    this.measurements = this.replicas.map(() => undefined);
    this.checks = this.replicas.map(() => undefined);
  }

  /** Every replica's health as of its last measurement (measured now when older than lagCheckIntervalMs). */
  async health(maxLagSeconds = this.maxLagSeconds): Promise<ReplicaHealth[]> {
    const measured = await Promise.all(this.replicas.map((_, i) => this.measure(i)));
    return measured.map((m, i) => ({
      index: i,
      ...judgeReplica(m.measured, maxLagSeconds),
      status: m.measured instanceof Error ? null : m.measured,
      checkedAt: m.checkedAt,
    }));
  }

  /** Forgets every measurement: the next call reads each replica's status again. */
  refresh(): void {
    this.measurements.fill(undefined);
  }

  /** Where a call of this routine with these options goes now. */
  async pick(routine: RoutedRoutine, options: CallOptions = {}): Promise<RouteChoice> {
    const name = routine.routine ?? routine.name ?? 'routine';
    if (options.route === 'replica' && !routine.readOnly) {
      throw new RouteError(name, 'may write (not READS SQL DATA): it cannot be sent to a replica');
    }
    if (routeOf(routine, options) === 'primary') return { route: 'primary', db: this.primary, replicaIndex: null, fallbackReason: null };
    if (!this.replicas.length) return this.fallback(name, 'no replica configured');
    const health = await this.health(options.maxLagSeconds ?? this.maxLagSeconds);
    const chosen = chooseReplica(health, this.next);
    if (chosen === null) return this.fallback(name, health.map((h) => `replica ${h.index}: ${h.reason}`).join('; '));
    this.next = (chosen + 1) % this.replicas.length;
    return { route: 'replica', db: this.replicas[chosen], replicaIndex: chosen, fallbackReason: null };
  }

  /**
   * Runs one call where pick() sends it. A read-only call that loses its replica connection is
   * marked against that replica and run again on the primary.
   */
  async run<T>(routine: RoutedRoutine, options: CallOptions | undefined, call: (db: Db) => Promise<T>): Promise<T> {
    const choice = await this.pick(routine, options);
    if (choice.route === 'primary') {
      this.counters.primary++;
      return call(choice.db);
    }
    this.counters.replica++;
    try {
      return await call(choice.db);
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.measurements[choice.replicaIndex!] = { measured: err as Error, checkedAt: Date.now() };
      this.counters.retries++;
      this.counters.primary++;
      this.onFallback?.({ routine: routine.routine ?? routine.name ?? 'routine', reason: `replica ${choice.replicaIndex}: connection error: ${(err as Error).message}` });
      return call(this.primary);
    }
  }

  private fallback(routine: string, reason: string): RouteChoice {
    this.counters.fallbacks++;
    this.onFallback?.({ routine, reason });
    return { route: 'primary', db: this.primary, replicaIndex: null, fallbackReason: reason };
  }

  private measure(i: number): Promise<Measurement> {
    const cached = this.measurements[i];
    if (cached && Date.now() - cached.checkedAt < this.lagCheckIntervalMs) return Promise.resolve(cached);
    // Concurrent calls share one status read per replica.
    this.checks[i] ??= this.readStatus(this.replicas[i]).then((measured) => {
      const m = { measured, checkedAt: Date.now() };
      this.measurements[i] = m;
      this.checks[i] = undefined;
      return m;
    });
    return this.checks[i]!;
  }

  private async readStatus(replica: Db): Promise<ReplicaStatus | Error | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Error>((resolve) => {
      timer = setTimeout(() => resolve(new Error(`no answer within ${this.statusTimeoutMs} ms`)), this.statusTimeoutMs);
    });
    try {
      return await Promise.race([readReplicaStatus(replica).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A router over a primary and its read replicas, accepted by every binding wherever it takes `db`. */
export function createRouter(options: RouterOptions): Router {
  return new Router(options);
}

export function isRouter(value: unknown): value is Router {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ROUTER] === true;
}
