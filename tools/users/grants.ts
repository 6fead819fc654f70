// What each user may do, as grants, and how that compares with what the server says it has
// (SHOW GRANTS, whose format both servers share). The application and reporting users get EXECUTE
// on exactly the routines whose header says `@grant application|reporting`, nothing else; the
// migrator owns the database.
import path from 'path';
import { UserError } from '../errors';
import { GRANT_ROLES, GrantRole, readHeader } from '../routines/header';
import { Connection, queryRows } from '../sql/connection';
import { REPEATABLE_DIR } from '../project';
import { Account, isGrantRole, Purpose } from './accounts';
import { verifyScratchName } from '../maintenance/verify-scratch';

/** One GRANT: privileges on one object ("*.*", "`db`.*", "PROCEDURE `db`.`name`"). */
export interface Grant {
  object: string;
  privileges: string[];
  grantOption: boolean;
}

export interface LiveRoutine {
  name: string;
  type: 'PROCEDURE' | 'FUNCTION';
  securityType: string;
  dataAccess: string;
  definer: string;
}

export async function liveRoutines(conn: Connection, database: string): Promise<LiveRoutine[]> {
  return queryRows<LiveRoutine>(conn,
    `SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type, SECURITY_TYPE AS securityType, SQL_DATA_ACCESS AS dataAccess, DEFINER AS definer
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME`, [database]);
}

/** A database name as a grant pattern: _ and % are wildcards there, so they are escaped. */
export function databasePattern(database: string): string {
  return database.replace(/[_%]/g, (c) => '\\' + c);
}

function quote(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export function routineObject(database: string, routine: Pick<LiveRoutine, 'name' | 'type'>): string {
  return `${routine.type} ${quote(database)}.${quote(routine.name)}`;
}

/**
 * The routines each role may EXECUTE, from their headers in <root>/procedures. A routine the
 * application or reporting user calls must run with its definer's rights (they have no table
 * privileges), and one the reporting user calls must not declare MODIFIES SQL DATA.
 */
export function routineGrants(routines: LiveRoutine[], root: string): Map<GrantRole, LiveRoutine[]> {
  const byRole = new Map<GrantRole, LiveRoutine[]>(GRANT_ROLES.map((role) => [role, []]));
  for (const routine of routines) {
    const header = readHeader(path.join(root, REPEATABLE_DIR), root, routine.name);
    for (const role of header.grants) {
      if (routine.securityType !== 'DEFINER') {
        throw new UserError(`${routine.name} is @grant ${role} but SQL SECURITY ${routine.securityType}: the ${role} user has no table privileges, so it must run with its definer's rights (SQL SECURITY DEFINER)`);
      }
      if (role === 'reporting' && routine.dataAccess === 'MODIFIES SQL DATA') {
        throw new UserError(`${routine.name} is @grant reporting but declares MODIFIES SQL DATA: the reporting user is read-only`);
      }
      byRole.get(role)!.push(routine);
    }
  }
  return byRole;
}

/** Every grant the account should have, and nothing more. */
export function desiredGrants(purpose: Purpose, database: string, byRole: Map<GrantRole, LiveRoutine[]>): Grant[] {
  if (!isGrantRole(purpose)) {
    // GRANT OPTION: `migrate up`, run as the migrator, gives the routines it re-creates back to
    // the application and reporting users (MySQL and MariaDB drop a routine's grants with it).
    // And its scratch schema <database>_verify, where verified offload and `campaign retire`
    // restore a dump to check it (tools/maintenance/verify-scratch.ts): without it the migrator
    // could not run the nightly maintenance.
    return [
      { object: `${quote(databasePattern(database))}.*`, privileges: ['ALL PRIVILEGES'], grantOption: true },
      { object: `${quote(databasePattern(verifyScratchName(database)))}.*`, privileges: ['ALL PRIVILEGES'], grantOption: false },
    ];
  }
  return byRole.get(purpose)!.map((r) => ({ object: routineObject(database, r), privileges: ['EXECUTE'], grantOption: false }));
}

/**
 * One line of SHOW GRANTS as a Grant; null for what is not a privilege grant on an object (a role
 * or proxy grant), which the caller treats as something the account should not have.
 */
export function parseGrantLine(line: string): Grant | null {
  const m = /^GRANT (.+?) ON (.+?) TO (?:`(?:[^`]|``)*`|'(?:[^']|'')*')@(?:`(?:[^`]|``)*`|'(?:[^']|'')*')(.*)$/s.exec(line.trim());
  if (!m || /^PROXY$/i.test(m[1].trim())) return null;
  const privileges: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of m[1]) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      privileges.push(current.trim().toUpperCase());
      current = '';
    } else current += c;
  }
  privileges.push(current.trim().toUpperCase());
  return { object: m[2].trim(), privileges, grantOption: /\bWITH GRANT OPTION\b/i.test(m[3]) };
}

export async function actualGrants(conn: Connection, account: Pick<Account, 'user' | 'host'>): Promise<string[]> {
  const rows = await queryRows<Record<string, string>>(conn, 'SHOW GRANTS FOR ?@?', [account.user, account.host]);
  return rows.map((r) => Object.values(r)[0]);
}

export interface GrantDifference {
  /** Desired grants the account lacks (wholly or in part). */
  missing: Grant[];
  /** SHOW GRANTS lines that give the account more than it should have. */
  extra: string[];
}

const sameObject = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function compareGrants(desired: Grant[], actualLines: string[]): GrantDifference {
  const actual = actualLines.map((line) => ({ line, grant: parseGrantLine(line) }));
  const extra: string[] = [];
  for (const { line, grant } of actual) {
    if (!grant) {
      extra.push(line);
      continue;
    }
    if (grant.object === '*.*' && grant.privileges.length === 1 && grant.privileges[0] === 'USAGE' && !grant.grantOption) continue;
    const wanted = desired.find((d) => sameObject(d.object, grant.object));
    const allowed = (p: string) => wanted!.privileges.includes('ALL PRIVILEGES') || wanted!.privileges.includes(p);
    if (!wanted || !grant.privileges.every(allowed) || (grant.grantOption && !wanted.grantOption)) extra.push(line);
  }
  const missing = desired.filter((d) => {
    const have = actual.find((a) => a.grant && sameObject(a.grant.object, d.object))?.grant;
    if (!have) return true;
    return !d.privileges.every((p) => have.privileges.includes(p)) || (d.grantOption && !have.grantOption);
  });
  return { missing, extra };
}

export function grantStatement(grant: Grant, account: string): string {
  return `GRANT ${grant.privileges.join(', ')} ON ${grant.object} TO ${account}${grant.grantOption ? ' WITH GRANT OPTION' : ''}`;
}
