// The hooks every `migrate up` runs unless told otherwise, built in this one place: the migrator
// itself imports neither campaigns nor users.
import { queryRows } from '../sql/connection';
import { upgradeSets } from '../campaigns/sets';
import { readRegistry } from '../users/registry';
import { grantLines, grantRoutine, MissingGrant, restoreRoutineGrants } from '../users/routine-grants';
import { MigrationHook } from './hooks';

/**
 * Brings every campaign table set to the newest template version, so a template migration and
 * its roll-out to existing sets are one `up`. Skipped by `up --to`: the sets follow the newest
 * template, which a partial run has not reached.
 */
export function campaignSetsHook(): MigrationHook {
  return {
    name: 'campaign-sets',
    async run(conn, ctx) {
      if (ctx.stoppedAt !== undefined) return { lines: [], skipped: `up --to ${ctx.stoppedAt}: sets are upgraded by a run to the newest version` };
      const tables = await queryRows(conn,
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'campaign_sets'");
      if (!tables.length) return { lines: [] };
      const lines: string[] = [];
      const results = await upgradeSets(conn, { progress: ctx.quiet ? 'none' : 'auto', onLine: (line) => lines.push(line) });
      const upgraded = results.filter((r) => r.outcome === 'upgraded');
      const failed = results.filter((r) => r.outcome === 'failed');
      if (upgraded.length) lines.unshift(`campaign sets upgraded: ${upgraded.length}`);
      return failed.length
        ? { lines, error: `${failed.length} campaign set(s) failed to upgrade, first: campaign ${failed[0].campaignId}: ${failed[0].error}` }
        : { lines };
    },
  };
}

/**
 * Gives the registered users their routines' grants back: right after each routine is re-created
 * (on the same connection, so the routine is without them only between two statements), then
 * every run, changed files or not, whatever any user lacks (a run killed between a routine's
 * CREATE and its GRANT, a grant revoked by hand).
 */
export function routineGrantsHook(): MigrationHook {
  const given: MissingGrant[] = [];
  return {
    name: 'routine-grants',
    // A hostile database_users row refuses the run before any routine is re-created.
    async beforeRoutines(conn, ctx) {
      await readRegistry(conn, ctx.database);
    },
    async afterRoutine(conn, ctx, routine) {
      given.push(...await grantRoutine(conn, ctx.database, routine, ctx.root));
    },
    async run(conn, ctx) {
      given.push(...await restoreRoutineGrants(conn, ctx.database, ctx.root));
      return { lines: grantLines(given) };
    },
  };
}

/** A new list for each run (the grants hook counts what it gave during that run). */
export function defaultMigrationHooks(): MigrationHook[] {
  return [campaignSetsHook(), routineGrantsHook()];
}
