// The EXECUTE grants the registered application and reporting users (database_users) should hold
// on the routines whose header says `@grant ...`, and giving back the missing ones. `migrate up`
// re-grants each routine right after re-creating it and heals whatever is still missing at the
// end of every run (a run killed between CREATE and GRANT, a grant revoked by hand);
// `migrate status` and `migrate validate` report what is missing.
import { OperationError } from '../errors';
import { Connection } from '../sql/connection';
import { projectRoot } from '../project';
import { accountSql, Purpose } from './accounts';
import { actualGrants, compareGrants, desiredGrants, Grant, grantStatement, liveRoutines, routineGrants } from './grants';
import { readRegistry, RegisteredAccount } from './registry';

export interface MissingGrant {
  account: RegisteredAccount;
  grant: Grant;
}

export interface ExpectedGrants {
  account: RegisteredAccount;
  grants: Grant[];
}

async function expectedGrants(conn: Connection, database: string, root: string, routine?: string): Promise<ExpectedGrants[]> {
  const registered = (await readRegistry(conn, database)).filter((r) => r.purpose !== 'migrator');
  if (!registered.length) return [];
  const routines = (await liveRoutines(conn, database)).filter((r) => routine === undefined || r.name === routine);
  const byRole = routineGrants(routines, root);
  return registered.map((account) => ({ account, grants: desiredGrants(account.purpose as Purpose, database, byRole) }));
}

/**
 * The expected grants the server does not show, or null with the reason when this account may
 * not read other accounts' grants (SHOW GRANTS FOR needs SELECT on the mysql schema).
 */
export async function missingRoutineGrants(conn: Connection, database: string, root = projectRoot()): Promise<{ missing: MissingGrant[] } | { unknown: string }> {
  const expected = await expectedGrants(conn, database, root);
  const missing: MissingGrant[] = [];
  for (const { account, grants } of expected) {
    let lines: string[];
    try {
      lines = await actualGrants(conn, account);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ER_NONEXISTING_GRANT') {
        lines = [];
      } else return { unknown: `cannot read the grants of ${accountSql(account)}: ${e.message}` };
    }
    for (const grant of compareGrants(grants, lines).missing) missing.push({ account, grant });
  }
  return { missing };
}

export function describeMissingGrant(m: MissingGrant): string {
  return `${m.account.purpose} user ${accountSql(m.account)} lacks ${m.grant.privileges.join(', ')} ON ${m.grant.object}`;
}

async function give(conn: Connection, account: RegisteredAccount, grant: Grant): Promise<void> {
  try {
    await conn.query(grantStatement(grant, accountSql(account)));
  } catch (err) {
    throw new OperationError(`routine grants not restored for ${accountSql(account)}: ${(err as Error).message} (run \`reminderly-db users apply\` as an administrator)`);
  }
}

/** Right after (re-)creating one routine, on the same connection: its grants back to the registered users. */
export async function grantRoutine(conn: Connection, database: string, routine: string, root = projectRoot()): Promise<MissingGrant[]> {
  const given: MissingGrant[] = [];
  for (const { account, grants } of await expectedGrants(conn, database, root, routine)) {
    for (const grant of grants) {
      await give(conn, account, grant);
      given.push({ account, grant });
    }
  }
  return given;
}

/**
 * Gives the registered users every expected grant they lack (all of them when their grants
 * cannot be read: GRANT is idempotent). Returns what it gave.
 */
export async function restoreRoutineGrants(conn: Connection, database: string, root = projectRoot()): Promise<MissingGrant[]> {
  const state = await missingRoutineGrants(conn, database, root);
  const toGive: MissingGrant[] = 'missing' in state ? state.missing
    : (await expectedGrants(conn, database, root)).flatMap(({ account, grants }) => grants.map((grant) => ({ account, grant })));
  for (const m of toGive) await give(conn, m.account, m.grant);
  return toGive;
}

/** The migrate report's lines: one per user that was given grants. */
export function grantLines(given: MissingGrant[]): string[] {
  // A grant given right after its routine was re-created and again by the closing heal (which gives
  // every expected grant when the migrator may not read other accounts' grants) counts once.
  const seen = new Set<string>();
  const perUser = new Map<string, number>();
  for (const m of given) {
    const key = JSON.stringify([m.account.user, m.account.host, m.grant]);
    if (seen.has(key)) continue;
    seen.add(key);
    perUser.set(m.account.user, (perUser.get(m.account.user) ?? 0) + 1);
  }
  return [...perUser].map(([user, n]) => `routine grants restored: ${n} for ${user}`);
}
