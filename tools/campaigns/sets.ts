// Campaign table sets: create, list, upgrade every set, retire. The database does the work
// (campaign_set_* routines, so the same steps run from the CLI, migrate up, or the mysql client);
// this module validates input, reports per set, and shows progress.
import { UserError } from '../errors';
import { Connection, queryRows } from '../sql/connection';
import { signalsAsUserErrors } from '../sql/signals';
import { startProgress, ProgressOptions } from '../progress';

const MAX_CAMPAIGN_ID = 2n ** 64n - 1n;

/** A campaign id from user input: a positive whole number, nothing else (it ends up in table names). */
export function parseCampaignId(input: string | number): number {
  const text = String(input).trim();
  if (!/^\d+$/.test(text) || BigInt(text) === 0n || BigInt(text) > MAX_CAMPAIGN_ID) {
    throw new UserError(`campaign id must be a positive whole number, got ${JSON.stringify(String(input))}`);
  }
  if (BigInt(text) > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`campaign id ${text} is too large`);
  return Number(text);
}

/** The physical table of a campaign set, from the one SQL function that knows the pattern. */
export async function campaignTableName(conn: Connection, campaignId: number, kind: string): Promise<string> {
  const [row] = await signalsAsUserErrors(() =>
    queryRows<{ name: string }>(conn, 'SELECT campaign_table_name(?, ?) AS name', [campaignId, kind]));
  return row.name;
}

export async function tableKinds(conn: Connection): Promise<string[]> {
  const rows = await queryRows<{ kind: string }>(conn, 'SELECT kind FROM campaign_table_kinds ORDER BY kind');
  return rows.map((r) => r.kind);
}

export async function latestTemplateVersion(conn: Connection): Promise<number> {
  const [row] = await queryRows<{ v: number | null }>(conn, 'SELECT MAX(version) AS v FROM campaign_template_versions');
  if (row.v === null) throw new UserError('no campaign template versions: run `migrate up` first');
  return Number(row.v);
}

export interface CreateResult {
  campaignId: number;
  created: boolean;
  version: number;
}

/**
 * Refuses, before any set is made, ids that name no campaign: `campaign create 2 424242` changes
 * nothing rather than creating 2's set and then failing.
 */
export async function checkCampaignsExist(conn: Connection, campaignIds: number[]): Promise<void> {
  if (!campaignIds.length) return;
  const found = new Set((await queryRows<{ id: number }>(conn, 'SELECT id FROM campaigns WHERE id IN (?)', [campaignIds])).map((r) => Number(r.id)));
  const unknown = campaignIds.filter((id) => !found.has(id));
  if (unknown.length) throw new UserError(`unknown campaign${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: no set was created`);
}

export async function createCampaignSet(conn: Connection, campaignId: number): Promise<CreateResult> {
  return signalsAsUserErrors(async () => {
    await conn.query('CALL campaign_set_create(?, @reminderly_created)', [campaignId]);
    const [row] = await queryRows<{ created: number; version: number }>(conn,
      'SELECT @reminderly_created AS created, template_version AS version FROM campaign_sets WHERE campaign_id = ?', [campaignId]);
    return { campaignId, created: Number(row.created) === 1, version: Number(row.version) };
  }, `campaign ${campaignId}`);
}

export interface SetInfo {
  campaignId: number;
  companyId: number;
  campaignName: string;
  campaignState: string;
  setState: string;
  templateVersion: number;
  /** Row counts per table kind: InnoDB's estimates unless exact counts were asked for. */
  rows: Record<string, number>;
}

export async function listSets(conn: Connection, options: { exact?: boolean } = {}): Promise<SetInfo[]> {
  const sets = await queryRows<Record<string, unknown>>(conn,
    `SELECT s.campaign_id, c.company_id, c.name, c.state AS campaign_state, s.state AS set_state, s.template_version
       FROM campaign_sets s JOIN campaigns c ON c.id = s.campaign_id ORDER BY s.campaign_id`);
  // Two queries whatever the number of sets: the names every set should have (from the one
  // function that knows the pattern) and the catalogue's row estimates, joined here. Joining
  // information_schema on the function made MariaDB evaluate it per (set, kind, table): 35 s for
  // 200 sets.
  const expected = await queryRows<{ campaign_id: number; kind: string; name: string }>(conn,
    `SELECT s.campaign_id, k.kind, campaign_table_name(s.campaign_id, k.kind) AS name
       FROM campaign_sets s CROSS JOIN campaign_table_kinds k WHERE s.state <> 'retired'`);
  const catalogue = await queryRows<{ name: string; table_rows: number | null }>(conn,
    `SELECT TABLE_NAME AS name, TABLE_ROWS AS table_rows FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'campaign\\_%'`);
  const rowsByTable = new Map(catalogue.map((t) => [t.name, Number(t.table_rows ?? 0)]));
  const byCampaign = new Map<number, Record<string, number>>();
  for (const e of expected) {
    if (!rowsByTable.has(e.name)) continue;
    const entry = byCampaign.get(Number(e.campaign_id)) ?? {};
    entry[e.kind] = rowsByTable.get(e.name)!;
    byCampaign.set(Number(e.campaign_id), entry);
  }
  const infos = sets.map((s) => ({
    campaignId: Number(s.campaign_id),
    companyId: Number(s.company_id),
    campaignName: String(s.name),
    campaignState: String(s.campaign_state),
    setState: String(s.set_state),
    templateVersion: Number(s.template_version),
    rows: byCampaign.get(Number(s.campaign_id)) ?? {},
  }));
  if (options.exact) {
    for (const info of infos.filter((i) => i.setState !== 'retired')) {
      for (const kind of Object.keys(info.rows)) {
        const table = await campaignTableName(conn, info.campaignId, kind);
        const [row] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${table}\``);
        info.rows[kind] = Number(row.n);
      }
    }
  }
  return infos;
}

export interface UpgradeResult {
  campaignId: number;
  from: number;
  to: number;
  /** skipped: a set being retired, left as retire checksummed it (`reason` says so). */
  outcome: 'upgraded' | 'failed' | 'skipped';
  error?: string;
  reason?: string;
}

/**
 * Brings every live set below the target version up to it, set by set. A failing set is reported
 * and the others still go on; a killed run resumes where it stopped because each set's applied
 * steps are recorded by the routine. The caller holds the schema lock.
 */
export async function upgradeSets(conn: Connection, options: { toVersion?: number; progress?: ProgressOptions['mode']; onLine?: (l: string) => void } = {}): Promise<UpgradeResult[]> {
  const latest = await latestTemplateVersion(conn);
  const target = options.toVersion ?? latest;
  if (!Number.isInteger(target) || target < 1 || target > latest) {
    throw new UserError(`template version ${target} does not exist (newest is ${latest})`);
  }
  // A set being retired is left as it is (its tables must stay what retire checksummed); once
  // `campaign retire N --cancel` returns it to service, the next upgrade brings it up.
  const below = await queryRows<{ campaign_id: number; template_version: number; state: string }>(conn,
    `SELECT campaign_id, template_version, state FROM campaign_sets
      WHERE state <> 'retired' AND (template_version < ? OR state = 'upgrading' OR state = 'creating') ORDER BY campaign_id`, [target]);
  const results: UpgradeResult[] = [];
  for (const set of below.filter((s) => s.state === 'retiring')) {
    const reason = `its set is being retired (campaign retire ${set.campaign_id} finishes it, --cancel returns it to service)`;
    results.push({ campaignId: Number(set.campaign_id), from: Number(set.template_version), to: target, outcome: 'skipped', reason });
    options.onLine?.(`campaign ${set.campaign_id}: not upgraded, ${reason}`);
  }
  const stale = below.filter((s) => s.state !== 'retiring');
  if (!stale.length) return results;
  const progress = startProgress({ label: `upgrading campaign sets to v${target}`, total: stale.length, unit: 'sets', mode: options.progress });
  for (const set of stale) {
    const campaignId = Number(set.campaign_id);
    try {
      await conn.query('CALL campaign_set_upgrade(?, ?)', [campaignId, target]);
      results.push({ campaignId, from: Number(set.template_version), to: target, outcome: 'upgraded' });
    } catch (err) {
      const e = err as { sqlMessage?: string; message: string };
      results.push({ campaignId, from: Number(set.template_version), to: target, outcome: 'failed', error: e.sqlMessage ?? e.message });
      options.onLine?.(`campaign ${campaignId}: upgrade failed: ${e.sqlMessage ?? e.message}`);
    }
    progress.advance();
  }
  const failed = results.filter((r) => r.outcome === 'failed').length;
  progress.finish(`${results.filter((r) => r.outcome === 'upgraded').length} upgraded${failed ? `, ${failed} failed` : ''}`);
  return results;
}
