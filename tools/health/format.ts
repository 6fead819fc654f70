// The three outputs of `reminderly-db health`. Pure: metrics and alarms in, text out.
import { Alarm } from './alarms';
import { HealthMetrics } from './metrics';
import { Thresholds } from './thresholds';

/** The --json document (documented in tools/health/README.md): keep it stable. */
export interface HealthReport {
  healthy: boolean;
  windowMinutes: number;
  thresholds: Thresholds;
  alarms: Pick<Alarm, 'name' | 'subject' | 'value' | 'threshold' | 'message'>[];
  server: HealthMetrics['server'];
  campaigns: HealthMetrics['campaigns'];
}

export function healthReport(metrics: HealthMetrics, thresholds: Thresholds, alarms: Alarm[]): HealthReport {
  return {
    healthy: alarms.length === 0,
    windowMinutes: metrics.windowMinutes,
    thresholds,
    alarms,
    server: metrics.server,
    campaigns: metrics.campaigns,
  };
}

export function formatJson(report: HealthReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

const kb = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;
const age = (seconds: number | null) => (seconds === null ? '-' : seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : seconds >= 60 ? `${(seconds / 60).toFixed(1)} min` : `${seconds} s`);

/** People first: what is breached, then the figures. */
export function formatText(report: HealthReport): string {
  const lines: string[] = [];
  if (report.alarms.length) {
    lines.push(`ALARM: ${report.alarms.length} threshold(s) breached`);
    for (const a of report.alarms) lines.push(`  ${a.name} ${a.subject}: ${a.message}`);
  } else {
    lines.push('healthy: no threshold breached');
  }
  lines.push('', `database ${report.server.database}, measured ${report.server.measuredAt}`);
  lines.push(`campaigns (${report.campaigns.length}; claim rate over ${report.windowMinutes} min):`);
  for (const c of report.campaigns) {
    lines.push(`  ${c.campaignId} ${c.name}: ready ${c.ready}, claimed ${c.claimed}, completed ${c.completed} (sent ${c.sent}, failed ${c.failed}; ${c.retried} retried), `
      + `oldest ready ${age(c.oldestReadySeconds)}, leases open ${c.leasesOpen} / expired ${c.leasesExpired}, ${c.claimRatePerMinute} claimed/min`);
  }
  lines.push('log tables:');
  for (const t of report.server.logTables) {
    lines.push(`  ${t.table}${t.rotated ? ' (rotated)' : ''}: ~${t.rowsEstimate} rows, ${kb(t.bytes)}${t.rotated ? '' : `, oldest unrotated row ${age(t.oldestRowSeconds)}`}`);
  }
  lines.push('history tables:');
  for (const h of report.server.historyTables) lines.push(`  ${h.kind} (${h.tables} table(s)): ~${h.rowsEstimate} rows, ${kb(h.bytes)}`);
  lines.push(`replicas: ${report.server.replicas.length ? '' : 'none configured'}`);
  for (const r of report.server.replicas) {
    lines.push(`  ${r.replica}: ${r.running ? `running, ${r.lagSeconds ?? '?'} s behind` : r.error ?? 'not running'}`);
  }
  lines.push('maintenance (latest run of each step):');
  for (const [step, run] of Object.entries(report.server.maintenance)) {
    lines.push(`  ${step}: ${run ? `${run.ok === null ? `unfinished (running or killed${run.unfinishedSeconds != null ? `, ${Math.round(run.unfinishedSeconds / 60)} min` : ''})` : run.ok ? 'ok' : 'FAILED'}, started ${run.startedAt}` : 'never ran'}`);
  }
  return lines.join('\n') + '\n';
}

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  samples: { labels: Labels; value: number }[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} gauge`];
  for (const s of f.samples) {
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
    lines.push(`${f.name}${labels ? `{${labels}}` : ''} ${Number.isFinite(s.value) ? s.value : 'NaN'}`);
  }
  return lines.join('\n');
}

/** Text exposition format 0.0.4; every family is a gauge (counts can drop when data moves or tables rotate). */
export function formatPrometheus(report: HealthReport): string {
  const families: Family[] = [];
  const family = (name: string, help: string, samples: Family['samples']) => families.push({ name: `reminderly_${name}`, help, samples });
  const perCampaign = (name: string, help: string, value: (c: HealthReport['campaigns'][number]) => number | null) =>
    family(name, help, report.campaigns.filter((c) => value(c) !== null).map((c) => ({ labels: { campaign_id: String(c.campaignId) }, value: value(c)! })));

  family('health_healthy', '1 when no alarm threshold is breached', [{ labels: {}, value: report.healthy ? 1 : 0 }]);
  family('health_alarm', 'A breached alarm (1 per alarm and subject)', report.alarms.map((a) => ({ labels: { alarm: a.name, subject: a.subject }, value: 1 })));
  perCampaign('campaign_ready_messages', 'Messages claimable now, held by nobody', (c) => c.ready);
  perCampaign('campaign_claimed_messages', 'Messages held by batches whose lease runs', (c) => c.claimed);
  perCampaign('campaign_completed_messages', 'Messages finished by completed batches (released and retried excluded), history included', (c) => c.completed);
  perCampaign('campaign_sent_messages', 'Messages reported sent', (c) => c.sent);
  perCampaign('campaign_failed_messages', 'Messages failed with no retry left', (c) => c.failed);
  perCampaign('campaign_retried_tries', 'Failed tries scheduled for a retry', (c) => c.retried);
  perCampaign('campaign_oldest_ready_seconds', 'Age of the oldest claimable message', (c) => c.oldestReadySeconds);
  perCampaign('campaign_open_leases', 'Batches not completed whose lease runs', (c) => c.leasesOpen);
  perCampaign('campaign_expired_leases', 'Batches whose lease ran out while still holding messages', (c) => c.leasesExpired);
  perCampaign('campaign_expired_lease_messages', 'Messages held by expired leases', (c) => c.expiredLeaseMessages);
  perCampaign('campaign_claim_rate_per_minute', `Messages claimed per minute over the last ${report.windowMinutes} minutes`, (c) => c.claimRatePerMinute);
  const logLabels = (t: HealthReport['server']['logTables'][number]) => ({ table: t.table, base: t.base, rotated: String(t.rotated) });
  family('log_table_rows', 'Log table rows (information_schema estimate)', report.server.logTables.map((t) => ({ labels: logLabels(t), value: t.rowsEstimate })));
  family('log_table_bytes', 'Log table data and index bytes', report.server.logTables.map((t) => ({ labels: logLabels(t), value: t.bytes })));
  family('log_oldest_unrotated_seconds', 'Age of the oldest row of a live log table',
    report.server.logTables.filter((t) => !t.rotated && t.oldestRowSeconds !== null).map((t) => ({ labels: { table: t.table }, value: t.oldestRowSeconds! })));
  family('history_table_rows', 'History table rows by kind (information_schema estimate)', report.server.historyTables.map((h) => ({ labels: { kind: h.kind }, value: h.rowsEstimate })));
  family('history_table_bytes', 'History table data and index bytes by kind', report.server.historyTables.map((h) => ({ labels: { kind: h.kind }, value: h.bytes })));
  family('replica_up', '1 when the replica answers and both replication threads run', report.server.replicas.map((r) => ({ labels: { replica: r.replica }, value: r.reachable && r.running ? 1 : 0 })));
  family('replica_lag_seconds', 'Seconds the replica is behind its primary',
    report.server.replicas.filter((r) => r.lagSeconds !== null).map((r) => ({ labels: { replica: r.replica }, value: r.lagSeconds! })));
  const runs = Object.entries(report.server.maintenance).filter(([, run]) => run !== null);
  family('maintenance_last_run_ok', 'Latest run of a maintenance step: 1 ok, 0 failed, -1 running or killed',
    runs.map(([step, run]) => ({ labels: { step }, value: run!.ok === null ? -1 : run!.ok ? 1 : 0 })));
  family('maintenance_last_run_started_timestamp_seconds', 'Start of the latest run of a maintenance step (Unix time)',
    runs.map(([step, run]) => ({ labels: { step }, value: Date.parse(run!.startedAt) / 1000 })));
  return families.map(renderFamily).join('\n') + '\n';
}
