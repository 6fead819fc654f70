// Scale: many campaign sets in one database (1,000 campaigns = 9,000+ tables).
//   create    campaign_set_create for each of `sets` new campaigns, one after the other, under
//             the schema lock as `campaign create` does: sets/s and tables/s
//   upgrade   a throwaway template version (a row in campaign_template_versions and two steps
//             adding a nullable column to messages and its history twin), rolled out by upgradeSets() as
//             `campaign upgrade --all` / `migrate up` do: sets/s and ALTERs/s
//   drift     migrateDrift() (`migrate drift`) with every set present, once, before the upgrade
//             (the throwaway version is not in the checkout's history, so drift would name every set)
//   list      listSets() (`campaign list`) and migrationStatus() (`migrate status`) with every set
//             present: median of 3 calls
// The throwaway version exists only in the bench database, which is dropped afterwards.
import { listSets, tableKinds, upgradeSets, createCampaignSet, latestTemplateVersion } from '../campaigns/sets';
import { migrationStatus } from '../migrate/migrator';
import { migrateDrift } from '../migrate/drift';
import { Connection, queryRows, withConnection } from '../sql/connection';
import { withSchemaLock } from '../sql/schema-lock';
import { startProgress } from '../progress';
import { BenchContext, elapsed, fmtInt, now, openConnection } from './context';
import { rate, ScaleSection, TimedCall } from './types';

export interface ScaleOptions {
  sets: number;
  /** campaign list is stopped (KILL QUERY) after this long. */
  callTimeoutSeconds: number;
}

async function tablesInDatabase(ctx: BenchContext): Promise<number> {
  const [row] = await queryRows<{ n: number }>(ctx.conn,
    "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'");
  return Number(row.n);
}

/**
 * Times a call up to `runs` times (once when it takes over 10 s) and reports the median. With a
 * connection of its own, a call still running after limitSeconds is stopped by KILL QUERY and
 * reported as not finished, so a call that does not scale cannot hold the run up for hours.
 */
async function timed(ctx: BenchContext, label: string, runs: number, limitSeconds: number,
  fn: (conn: Connection | null) => Promise<number>, killable: boolean): Promise<TimedCall> {
  const runsMs: number[] = [];
  let items: number | null = null;
  const conn = killable ? await openConnection(ctx) : null;
  try {
    for (let i = 0; i < runs; i++) {
      let timedOut = false;
      const timer = conn ? setTimeout(() => {
        timedOut = true;
        void withConnection(ctx.url, (c) => c.query('KILL QUERY ?', [conn.threadId])).catch(() => undefined);
      }, limitSeconds * 1000) : null;
      const t0 = now();
      try {
        items = await fn(conn);
      } catch (err) {
        if (!timedOut) throw err;
        return { label, ms: null, runsMs, items: null, timedOutAfterSeconds: limitSeconds };
      } finally {
        if (timer) clearTimeout(timer);
      }
      runsMs.push(Math.round(elapsed(t0) * 10_000) / 10);
      if (runsMs[runsMs.length - 1] > 10_000) break;
    }
  } finally {
    await conn?.end().catch(() => conn.destroy());
  }
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { label, ms: sorted[Math.floor(sorted.length / 2)], runsMs, items };
}

export async function runScaleSection(ctx: BenchContext, options: ScaleOptions): Promise<ScaleSection> {
  const kinds = await tableKinds(ctx.conn);
  const [runType] = await queryRows<{ id: number }>(ctx.conn, "SELECT id FROM run_types WHERE code = 'immediate'");
  // The campaigns themselves (not timed): one multi-row INSERT.
  const stamp = Date.now().toString(36);
  for (let i = 0; i < options.sets; i += 1000) {
    const n = Math.min(1000, options.sets - i);
    await ctx.conn.query("INSERT INTO campaigns (company_id, name, run_type_id, state) VALUES ?",
      [Array.from({ length: n }, (_, k) => [ctx.companyId, `bench scale ${stamp} ${i + k + 1}`, runType.id, 'active'])]);
  }
  const ids = (await queryRows<{ id: number }>(ctx.conn, 'SELECT id FROM campaigns WHERE company_id = ? AND name LIKE ? ORDER BY id',
    [ctx.companyId, `bench scale ${stamp} %`])).map((r) => Number(r.id));

  const before = await tablesInDatabase(ctx);
  ctx.log(`scale: creating ${fmtInt(ids.length)} campaign sets (${kinds.length} tables each)`);
  const progress = startProgress({ label: 'scale: creating campaign sets', total: ids.length, unit: 'sets', mode: ctx.progress });
  let created = 0;
  const t0 = now();
  await withSchemaLock(ctx.conn, ctx.database, 60, async () => {
    for (const id of ids) {
      if (ctx.stopping()) break;
      if ((await createCampaignSet(ctx.conn, id)).created) created++;
      progress.advance();
    }
  });
  const createSeconds = elapsed(t0);
  progress.finish();
  const afterCreate = await tablesInDatabase(ctx);
  const tables = afterCreate - before;
  const section: ScaleSection = {
    sets: ids.length, tablesPerSet: kinds.length,
    create: {
      method: 'create-sets', label: `create ${fmtInt(ids.length)} campaign sets (campaign_set_create)`, status: created === ids.length ? 'ok' : 'failed',
      units: created, unit: 'sets', seconds: createSeconds, perSecond: rate(created, createSeconds), tables, tablesPerSecond: rate(tables, createSeconds),
      note: created === ids.length ? undefined : `${created} of ${ids.length} sets created`,
    },
    upgrade: {
      method: 'upgrade-sets', label: 'upgrade every set by one template version', status: 'skipped', units: 0, unit: 'sets', seconds: 0, perSecond: null,
      fromVersion: 0, toVersion: 0, tablesAltered: 0, tablesPerSecond: null, setsUpgraded: 0,
    },
    list: null, status: null, tablesInDatabase: afterCreate,
  };
  ctx.log(`scale: ${fmtInt(created)} sets, ${fmtInt(tables)} tables in ${createSeconds.toFixed(1)} s: ${fmtInt(section.create.perSecond)} sets/s, ${fmtInt(section.create.tablesPerSecond)} tables/s`);
  if (ctx.stopping()) return section;

  ctx.log(`scale: timing migrate drift over ${fmtInt(created)} sets (target: under 30 s at 1,000 sets)`);
  let compared = { setsCompared: 0, tablesCompared: 0 };
  const drift = await timed(ctx, 'migrate drift (migrateDrift)', 1, options.callTimeoutSeconds, async () => {
    const report = await migrateDrift({ url: ctx.url });
    compared = { setsCompared: report.setsCompared, tablesCompared: report.tablesCompared };
    if (report.findings.length) ctx.log(`scale: drift found ${report.findings.length} difference(s), first: ${report.findings[0].line}`);
    return report.findings.length;
  }, false);
  section.drift = { ...drift, ...compared };
  ctx.log(`scale: migrate drift ${drift.ms === null ? 'did not finish' : `${(drift.ms / 1000).toFixed(1)} s`} over ${fmtInt(compared.setsCompared)} sets, ${fmtInt(compared.tablesCompared)} tables (${fmtInt(drift.items)} differences)`);
  if (ctx.stopping()) return section;

  // One more template version, for this database only: a nullable column on messages.
  const from = await latestTemplateVersion(ctx.conn);
  const to = from + 1;
  await ctx.conn.query('INSERT INTO campaign_template_versions (version, description) VALUES (?, ?)', [to, 'bench: throwaway version (messages.bench_flag)']);
  // The column goes to the history twin too, as every template version that adds one must (the
  // history move copies columns by name).
  for (const [step, kind] of [[1, 'messages'], [2, 'messages_history']] as const) {
    await ctx.conn.query(`INSERT INTO campaign_template_steps (version, step, table_kind, ddl, probe) VALUES (?, ?, ?,
        'ALTER TABLE {table} ADD COLUMN bench_flag TINYINT UNSIGNED NULL',
        'SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ''{table}'' AND COLUMN_NAME = ''bench_flag''')`,
    [to, step, kind]);
  }
  ctx.log(`scale: upgrading every set from template v${from} to v${to} (ALTER TABLE ... ADD COLUMN on messages and messages_history)`);
  const t1 = now();
  const results = await withSchemaLock(ctx.conn, ctx.database, 60, () => upgradeSets(ctx.conn, { toVersion: to, progress: ctx.progress, onLine: ctx.log }));
  const upgradeSeconds = elapsed(t1);
  const upgraded = results.filter((r) => r.outcome === 'upgraded').length;
  const failed = results.filter((r) => r.outcome === 'failed');
  section.upgrade = {
    ...section.upgrade, status: failed.length ? 'failed' : 'ok', units: upgraded, seconds: upgradeSeconds, perSecond: rate(upgraded, upgradeSeconds),
    fromVersion: from, toVersion: to, tablesAltered: 2 * upgraded, tablesPerSecond: rate(2 * upgraded, upgradeSeconds), setsUpgraded: upgraded,
    note: failed.length ? `${failed.length} sets failed, first: campaign ${failed[0].campaignId}: ${failed[0].error}` : 'two ALTER TABLE ... ADD COLUMN per set (messages and its history twin)',
  };
  ctx.log(`scale: ${fmtInt(upgraded)} sets upgraded in ${upgradeSeconds.toFixed(1)} s: ${fmtInt(section.upgrade.perSecond)} sets/s`);

  ctx.log(`scale: timing campaign list and migrate status (each stopped after ${options.callTimeoutSeconds} s)`);
  section.list = await timed(ctx, 'campaign list (listSets)', 3, options.callTimeoutSeconds, async (c) => (await listSets(c!)).length, true);
  section.status = await timed(ctx, 'migrate status (migrationStatus)', 3, options.callTimeoutSeconds, async () => (await migrationStatus({ url: ctx.url })).files.length, false);
  const said = (t: TimedCall, what: string) => (t.ms === null ? `did not finish in ${t.timedOutAfterSeconds} s` : `${t.ms} ms (${fmtInt(t.items)} ${what})`);
  ctx.log(`scale: campaign list ${said(section.list, 'sets')}, migrate status ${said(section.status, 'files')}, ${fmtInt(afterCreate)} tables in the database`);
  return section;
}
