// Mocha helpers of the harness: each gives the enclosing describe() a resource made in before()
// and removed in after() whether or not the tests passed. Kept apart from database.ts and
// replication.ts because those are also used at run time (verification copies, the bench), where
// mocha's globals do not exist.
import { createThrowawayDatabase, testServerUrl, ThrowawayDatabase, ThrowawayOptions } from './database';
import { PrivateServer, PrivateServerOptions, READY_TIMEOUT_MS, startPrivateServer, STOP_TIMEOUT_MS } from './private-server';
import { ReplicationOptions, ReplicationPair, startReplication } from './replication';

export interface UseDatabaseOptions extends ThrowawayOptions {
  label?: string;
  /** Apply every migration (schema, indexes, seeds, routines) before the tests run. */
  migrated?: boolean;
}

/**
 * Mocha helper: a fresh database for the enclosing describe(), created in before() and dropped in
 * after() whether or not the tests passed. The returned object is filled in by before().
 */
export function useThrowawayDatabase(options: UseDatabaseOptions = {}): ThrowawayDatabase {
  const handle = {} as ThrowawayDatabase;
  before(async function () {
    this.timeout(300_000);
    Object.assign(handle, await createThrowawayDatabase(options.label ?? '', testServerUrl(), { collation: options.collation }));
    if (options.migrated) {
      const { migrateDatabase } = await import('./migrated');
      await migrateDatabase(handle.url);
    }
  });
  after(async function () {
    if (handle.drop) await handle.drop();
  });
  return handle;
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

/**
 * Mocha helper: a private server for the enclosing describe(), started in before() and stopped in
 * after() whether or not the tests passed. The returned object is filled in by before().
 */
export function usePrivateServer(options: PrivateServerOptions = {}): PrivateServer {
  const handle = {} as PrivateServer;
  before(async function () {
    this.timeout(READY_TIMEOUT_MS + 60_000);
    Object.assign(handle, await startPrivateServer(options));
  });
  after(async function () {
    this.timeout(STOP_TIMEOUT_MS + 10_000);
    if (handle.stop) await handle.stop();
  });
  return handle;
}
