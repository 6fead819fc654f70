// Commands that change the database (migrations, campaign set changes, maintenance, users) run on
// the primary only: on a replica their writes would fork it from its primary (root may write through
// read_only) or fail halfway. Refusing is a user error (exit 1): nothing failed, the command was
// aimed at the wrong server, and the remedy is to aim it at the primary.
import { readReplicaStatus } from '../../bindings/replica-status';
import { listedReplicas, Target } from '../config/environments';
import { UserError } from '../errors';
import { Connection, parseUrl, queryRows, withConnection } from './connection';

/** ER_SPECIFIC_ACCESS_DENIED_ERROR: SHOW REPLICA STATUS needs REPLICATION CLIENT (or SLAVE MONITOR). */
const ACCESS_DENIED = new Set([1227, 1142, 1044, 1045]);

function serverOf(url: string): string {
  const { host, port, socketPath } = parseUrl(url);
  return socketPath ?? `${host}:${port}`;
}

/**
 * Refuses a server that replicates from another or runs read_only, with a one-line UserError naming
 * `what` (e.g. "migrate up"), the server and why.
 */
export async function assertPrimary(conn: Connection, what: string, server: string): Promise<void> {
  let status = null;
  try {
    status = await readReplicaStatus(conn);
  } catch (err) {
    // Without the privilege to read replica status, read_only still tells a replica apart.
    if (!ACCESS_DENIED.has((err as { errno?: number }).errno ?? 0)) throw err;
  }
  if (status) {
    const threads = status.running ? 'replicating' : 'configured to replicate, threads stopped,';
    throw new UserError(`${what} refused: ${server} is a replica (${threads} from ${status.source}); run it on the primary`);
  }
  const [{ readOnly }] = await queryRows<{ readOnly: number | string }>(conn, 'SELECT @@global.read_only AS readOnly');
  if (Number(readOnly) !== 0) {
    throw new UserError(`${what} refused: ${server} runs with read_only=ON (a replica, or a primary being switched over); run it on the primary`);
  }
}

/** Refuses a URL that an environment of the config file lists as a replica (same host and port). */
export function assertNotListedReplica(url: string, what: string, configFile?: string): void {
  const server = serverOf(url);
  const listed = listedReplicas(configFile).find((r) => serverOf(r.url) === server);
  if (listed) {
    throw new UserError(`${what} refused: ${server} is listed as a replica of environment "${listed.env}" in database.json; run it on the primary`);
  }
}

/** The check every primary-only command makes on its target before it opens its own connection. */
export async function assertPrimaryTarget(target: Target, what: string, configFile?: string): Promise<void> {
  const server = serverOf(target.url);
  if (target.replicas.some((r) => serverOf(r) === server)) {
    throw new UserError(`${what} refused: ${server} is listed as a replica of environment "${target.env}"; run it on the primary`);
  }
  assertNotListedReplica(target.url, what, configFile);
  await withConnection(target.url, (conn) => assertPrimary(conn, what, server), { database: null });
}
