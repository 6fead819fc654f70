// The reference for drift and baseline: what the checkout's history up to a version produces,
// built in a throwaway database on the live database's own server (same version, same defaults,
// so both catalogues are rendered alike), with one campaign table set per template version the
// live sets are at. Dropped afterwards, also when building it fails.
import { OperationError } from '../errors';
import { throwawayName } from '../harness/database';
import { parseUrl, queryRows, quoteIdentifier, withConnection, withDatabase } from '../sql/connection';
import { detectServer } from '../sql/flavour';
import { splitForServer } from '../sql/runner';
import { Catalogue, readCatalogue, TableDef } from './catalogue';
import { SetIdentity } from './catalogue-compare';
import { DB_MIGRATE_TABLE, LEDGER_TABLE } from './ledger';
import { assertMigrated, migrateUp } from './migrator';
import { discoverMigrations } from './sources';
import { REGISTRY_TABLE } from '../users/registry';

/** Tables the toolkit keeps its own books in: never part of a schema comparison. */
export const BOOKKEEPING_TABLES: ReadonlySet<string> = new Set([DB_MIGRATE_TABLE, LEDGER_TABLE, REGISTRY_TABLE]);

/**
 * The reference sets' ids: ones no template text contains, so mapping them to a live set's ids
 * by text replacement is exact (see mapSetTables).
 */
const REFERENCE_COMPANY_ID = 8_700_000_001;
const referenceCampaignId = (templateVersion: number) => 9_100_000_000 + templateVersion;

export interface ReferenceSet {
  identity: SetIdentity;
  tables: TableDef[];
}

export interface Reference {
  /** The newest versioned file the reference includes. */
  version: number;
  /** Whether the checkout's routines are in it. */
  routines: boolean;
  /** Everything but the reference sets' tables. */
  catalogue: Catalogue;
  /** Per template version that exists at `version`, a set's tables. */
  sets: Map<number, ReferenceSet>;
  buildSeconds: number;
}

export interface ReferenceOptions {
  /** URL of the live database: the reference is built next to it, with its default character set and collation. */
  url: string;
  root: string;
  version: number;
  /**
   * 'as-up': routines only when `version` is the newest (what `migrate up --to version` does);
   * 'always': the checkout's routines in any case (what drift compares the live routines with).
   */
  routines: 'as-up' | 'always';
  /** The template versions live sets are at. */
  templateVersions: number[];
}

async function buildSets(url: string, versions: number[]): Promise<number[]> {
  return withConnection(url, async (conn) => {
    const [table] = await queryRows(conn, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'campaign_sets'");
    if (!table) return [];
    const defined = new Set((await queryRows<{ v: number }>(conn, 'SELECT version AS v FROM campaign_template_versions')).map((r) => Number(r.v)));
    const wanted = versions.filter((v) => defined.has(v));
    if (!wanted.length) return [];
    await conn.query("INSERT INTO companies (id, name) VALUES (?, 'drift reference')", [REFERENCE_COMPANY_ID]);
    for (const version of wanted) {
      const id = referenceCampaignId(version);
      await conn.query(`INSERT INTO campaigns (id, company_id, name, run_type_id, state)
          SELECT ?, ?, ?, MIN(id), 'active' FROM run_types`, [id, REFERENCE_COMPANY_ID, `reference v${version}`]);
      await conn.query("INSERT INTO campaign_sets (campaign_id, template_version, state) VALUES (?, 0, 'creating')", [id]);
      await conn.query('CALL campaign_set_upgrade(?, ?)', [id, version]);
    }
    return wanted;
  });
}

export async function withReference<T>(options: ReferenceOptions, fn: (reference: Reference) => Promise<T>): Promise<T> {
  const live = parseUrl(options.url).database!;
  const started = Date.now();
  const name = throwawayName('ref');
  const serverUrl = withDatabase(options.url, null);
  await withConnection(serverUrl, async (conn) => {
    const [schema] = await queryRows<{ charset: string; collation: string }>(conn,
      'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [live]);
    try {
      // The live database's defaults: an object that inherits them is then the same on both sides.
      await conn.query(`CREATE DATABASE ${quoteIdentifier(name)} CHARACTER SET ${quoteIdentifier(schema.charset)} COLLATE ${quoteIdentifier(schema.collation)}`);
    } catch (err) {
      throw new OperationError(`cannot create the reference database ${name} on the server (the account needs CREATE and DROP on rdbt\\_% databases): ${(err as Error).message}`);
    }
  }, { database: null });
  const url = withDatabase(options.url, name);
  try {
    const sources = discoverMigrations(options.root);
    const newest = Math.max(0, ...sources.filter((s) => s.kind === 'versioned').map((s) => s.version!));
    try {
      assertMigrated(await migrateUp({ url, root: options.root, to: options.version, quiet: true }));
    } catch (err) {
      throw new OperationError(`building the reference (history up to version ${options.version}) failed: ${(err as Error).message}`);
    }
    let routines = options.version >= newest;
    if (!routines && options.routines === 'always') {
      // Routine bodies are not checked against tables when created, so the checkout's routines
      // go onto an older schema too.
      await withConnection(url, async (conn) => {
        const server = await detectServer(conn);
        for (const source of sources.filter((s) => s.kind === 'repeatable')) {
          for (const statement of splitForServer(source.sql, server)) await conn.query(statement.text);
        }
      });
      routines = true;
    }
    const built = await buildSets(url, [...new Set(options.templateVersions)].sort((a, b) => a - b));
    const catalogue = await withConnection(url, (conn) => readCatalogue(conn, name));
    const sets = new Map<number, ReferenceSet>();
    for (const version of built) {
      const prefix = `campaign_${referenceCampaignId(version)}_`;
      const tables = Object.values(catalogue.tables).filter((t) => t.name.startsWith(prefix));
      for (const t of tables) delete catalogue.tables[t.name];
      sets.set(version, { identity: { campaignId: referenceCampaignId(version), companyId: REFERENCE_COMPANY_ID }, tables });
    }
    return await fn({ version: options.version, routines, catalogue, sets, buildSeconds: (Date.now() - started) / 1000 });
  } finally {
    await withConnection(serverUrl, (conn) => conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`), { database: null }).catch(() => undefined);
  }
}
