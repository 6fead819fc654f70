// `migrate drift`: what the live database has against what its recorded history should have
// produced (the reference, built from the checkout at the recorded version). Read-only on the
// live database; one finding per difference.
import { UserError } from '../errors';
import { Connection, parseUrl, queryRows, withConnection } from '../sql/connection';
import { schemaLockHolder } from '../sql/schema-lock';
import { parseRotatedTableName } from '../maintenance/log-tables';
import { accountSql, Purpose } from '../users/accounts';
import { actualGrants, compareGrants, desiredGrants, LiveRoutine, routineGrants } from '../users/grants';
import { readRegistry } from '../users/registry';
import { Catalogue, readCatalogue, RoutineDef } from './catalogue';
import { campaignIdOfTable, compareCatalogues, Finding, findingLine, mapSetTables } from './catalogue-compare';
import { ledgerExists, readLedger } from './ledger';
import { BOOKKEEPING_TABLES, Reference, withReference } from './reference';
import { discoverMigrations, REPEATABLE_DIR } from './sources';
import { projectRoot } from '../project';

export interface LiveSet {
  campaignId: number;
  companyId: number;
  templateVersion: number;
  state: string;
}

export async function liveSets(conn: Connection, database: string): Promise<LiveSet[]> {
  const [table] = await queryRows(conn, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'campaign_sets'", [database]);
  if (!table) return [];
  const rows = await queryRows<Record<string, unknown>>(conn,
    'SELECT s.campaign_id, c.company_id, s.template_version, s.state FROM campaign_sets s JOIN campaigns c ON c.id = s.campaign_id ORDER BY s.campaign_id');
  return rows.map((r) => ({ campaignId: Number(r.campaign_id), companyId: Number(r.company_id), templateVersion: Number(r.template_version), state: String(r.state) }));
}

export interface SchemaComparison {
  findings: Finding[];
  /** Campaign sets compared table by table. */
  setsCompared: number;
  tablesCompared: number;
}

/**
 * The live catalogue against the reference: its own tables, views, routines, triggers and
 * events, and every live set's tables against the reference set of the set's template version,
 * names mapped. A set the reference cannot stand for (a template version the history does not
 * have, or halfway through a create or upgrade) is one finding, and its tables are not compared.
 * Rotated log tables are compared with the shape of the live log table they were rotated from.
 */
export function compareSchema(reference: Reference, live: Catalogue, sets: LiveSet[], routineSource: (r: RoutineDef) => string | null): SchemaComparison {
  const findings: Finding[] = [];
  const expected: Catalogue = { ...reference.catalogue, tables: { ...reference.catalogue.tables } };
  const skipped = new Set<number>();
  let setsCompared = 0;
  for (const set of sets) {
    if (set.state === 'retired') continue; // no tables: any left would be extra
    const object = `campaign ${set.campaignId}`;
    // A set being retired keeps the tables of its version until the drop: compared like an active one.
    if (set.state !== 'active' && set.state !== 'retiring') {
      findings.push({ object, difference: `table set is '${set.state}' at template version ${set.templateVersion} (an interrupted create or upgrade: \`campaign upgrade --all\` finishes it)` });
      skipped.add(set.campaignId);
      continue;
    }
    const ref = reference.sets.get(set.templateVersion);
    if (!ref) {
      findings.push({ object, difference: `table set is at template version ${set.templateVersion}, which the history up to version ${reference.version} does not define` });
      skipped.add(set.campaignId);
      continue;
    }
    for (const table of mapSetTables(ref.tables, ref.identity, set)) expected.tables[table.name] = table;
    setsCompared++;
  }
  // A rotated log table (maintenance rotate-logs) is its live table as it was: the same shape.
  for (const name of Object.keys(live.tables)) {
    const rotated = parseRotatedTableName(name);
    if (rotated && expected.tables[rotated.base] && !expected.tables[name]) expected.tables[name] = { ...expected.tables[rotated.base], name };
  }
  const ignoreTable = (name: string) => BOOKKEEPING_TABLES.has(name) || skipped.has(campaignIdOfTable(name) ?? -1);
  findings.push(...compareCatalogues(expected, live, { ignoreTable, routines: reference.routines, routineSource }));
  const tablesCompared = Object.keys(expected.tables).filter((n) => !ignoreTable(n)).length;
  return { findings, setsCompared, tablesCompared };
}

/** `PROCEDURE \`db\`.\`claim_batch\`` as `PROCEDURE claim_batch`: the database is the one drift names. */
function grantObject(object: string, database: string): string {
  return object.replace(new RegExp('`' + database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/_/g, '\\\\?_') + '`\\.', 'i'), '').replace(/`/g, '');
}

/**
 * The registered users' grants (database_users) against what the reference's routine headers
 * give them, as `users apply` would: a missing grant, a grant beyond it, an account that is gone.
 */
export async function grantFindings(conn: Connection, database: string, reference: Reference, root: string): Promise<Finding[]> {
  const registered = await readRegistry(conn, database);
  if (!registered.length) return [];
  const routines: LiveRoutine[] = Object.values(reference.catalogue.routines).map((r) => ({
    name: r.name, type: r.type, securityType: r.characteristics['SQL SECURITY'], dataAccess: r.characteristics['SQL DATA ACCESS'], definer: '',
  }));
  const byRole = routineGrants(routines, root);
  const findings: Finding[] = [];
  for (const account of registered) {
    const object = `user ${accountSql(account)}`;
    let lines: string[];
    try {
      lines = await actualGrants(conn, account);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ER_NONEXISTING_GRANT') throw err;
      findings.push({ object, difference: `registered as the ${account.purpose} user in database_users, but the account does not exist` });
      continue;
    }
    const { missing, extra } = compareGrants(desiredGrants(account.purpose as Purpose, database, byRole), lines);
    for (const grant of missing) findings.push({ object, difference: `${grant.privileges.join(', ')} on ${grantObject(grant.object, database)} missing` });
    for (const line of extra) {
      // `users apply --migrator-super` gives the migrator SUPER on purpose.
      if (account.purpose === 'migrator' && /^GRANT SUPER ON \*\.\* TO /i.test(line)) continue;
      findings.push({ object, difference: `extra grant: ${line}` });
    }
  }
  return findings;
}

export interface DriftOptions {
  url: string;
  root?: string;
  log?: (line: string) => void;
}

export interface DriftReport {
  database: string;
  /** The newest versioned file the ledger records as applied: the reference is built up to it. */
  recordedVersion: number;
  findings: (Finding & { line: string })[];
  /** What the reader should know that is not a difference (e.g. a run in progress). */
  notes: string[];
  setsCompared: number;
  tablesCompared: number;
  referenceSeconds: number;
  seconds: number;
}

export async function migrateDrift(options: DriftOptions): Promise<DriftReport> {
  const started = Date.now();
  const { database } = parseUrl(options.url);
  if (!database) throw new UserError('the URL must name a database (mysql://user@host:port/DATABASE)');
  const root = options.root ?? projectRoot();
  return withConnection(options.url, async (conn) => {
    const ledger = (await ledgerExists(conn)) ? await readLedger(conn) : [];
    const applied = ledger.filter((e) => e.kind === 'versioned' && e.status === 'applied' && e.version !== null);
    if (!applied.length) {
      throw new UserError(`${database} has no recorded migration history: adopt it with \`migrate baseline --version N\` (which proves its schema first)`);
    }
    const recordedVersion = Math.max(...applied.map((e) => e.version!));
    const notes: string[] = [];
    const holder = await schemaLockHolder(conn, database);
    if (holder !== null) notes.push(`a schema change is running (connection ${holder} holds the schema lock): what it has not finished shows as differences`);
    for (const e of ledger.filter((x) => x.status !== 'applied')) notes.push(`${e.name}.sql is ${e.status} in the ledger: what it did so far shows as differences`);
    const sets = await liveSets(conn, database);
    const checkout = discoverMigrations(root);
    for (const e of applied) {
      const file = checkout.find((s) => s.name === e.name);
      if (!file) notes.push(`${e.name}.sql is applied but not in this checkout: the reference cannot include it (see \`migrate validate\`)`);
      else if (file.checksum !== e.checksum) notes.push(`${e.name}.sql was edited after it was applied: the reference is built from the checkout's text (see \`migrate validate\`)`);
    }
    const checksums = new Map(ledger.filter((e) => e.status === 'applied').map((e) => [e.name, e.checksum]));
    const sources = new Map(checkout.map((s) => [s.name, s]));
    return withReference({ url: options.url, root, version: recordedVersion, routines: 'always', templateVersions: sets.map((s) => s.templateVersion) }, async (reference) => {
      options.log?.(`reference: the history up to version ${recordedVersion}, built in ${reference.buildSeconds.toFixed(1)} s`);
      const live = await readCatalogue(conn, database);
      const routineSource = (r: RoutineDef) => {
        const source = sources.get(`${REPEATABLE_DIR}/${r.name}`);
        if (!source) return null;
        const file = `${REPEATABLE_DIR}/${r.name}.sql`;
        const recorded = checksums.get(source.name);
        if (recorded === undefined) return `${file} (not applied yet: \`migrate up\` applies it)`;
        return recorded === source.checksum ? file : `${file} (edited since it was applied: \`migrate up\` re-applies it)`;
      };
      const comparison = compareSchema(reference, live, sets, routineSource);
      const findings = [...comparison.findings, ...await grantFindings(conn, database, reference, root)];
      return {
        database, recordedVersion, notes,
        findings: findings.map((f) => ({ ...f, line: findingLine(f) })),
        setsCompared: comparison.setsCompared, tablesCompared: comparison.tablesCompared,
        referenceSeconds: reference.buildSeconds, seconds: (Date.now() - started) / 1000,
      };
    });
  });
}
