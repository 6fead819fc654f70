// Metrics + thresholds -> the alarms that are breached. Pure: no server, no clock (ages come with
// the metrics, measured on the server's clock).
import { HealthMetrics } from './metrics';
import { Thresholds } from './thresholds';

export type AlarmName = 'oldest_ready' | 'expired_leases' | 'log_rotation' | 'replica_lag' | 'replica_down' | 'offload_failed' | 'maintenance_unfinished';

export interface Alarm {
  name: AlarmName;
  /** What it is about: "campaign 12", "log_events", a replica URL, "offload". */
  subject: string;
  /** The measured value, in the threshold's unit (minutes, leases, hours, seconds); null when there is none to measure. */
  value: number | string | null;
  threshold: number | boolean | null;
  /** One line for people. */
  message: string;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function evaluateAlarms(metrics: HealthMetrics, thresholds: Thresholds): Alarm[] {
  const alarms: Alarm[] = [];
  for (const c of metrics.campaigns) {
    const subject = `campaign ${c.campaignId}`;
    if (thresholds.oldestReadyMinutes !== null && c.oldestReadySeconds !== null && c.oldestReadySeconds > thresholds.oldestReadyMinutes * 60) {
      const minutes = round(c.oldestReadySeconds / 60);
      alarms.push({
        name: 'oldest_ready', subject, value: minutes, threshold: thresholds.oldestReadyMinutes,
        message: `${subject}: oldest ready message has waited ${minutes} min (threshold ${thresholds.oldestReadyMinutes} min; ${c.ready} ready)`,
      });
    }
    if (thresholds.expiredLeases !== null && c.leasesExpired > thresholds.expiredLeases) {
      alarms.push({
        name: 'expired_leases', subject, value: c.leasesExpired, threshold: thresholds.expiredLeases,
        message: `${subject}: ${c.leasesExpired} expired lease(s) still holding ${c.expiredLeaseMessages} message(s) (threshold ${thresholds.expiredLeases})`,
      });
    }
  }
  for (const t of metrics.server.logTables) {
    if (t.rotated || t.oldestRowSeconds === null || thresholds.logRotationHours === null) continue;
    if (t.oldestRowSeconds > thresholds.logRotationHours * 3600) {
      const hours = round(t.oldestRowSeconds / 3600);
      alarms.push({
        name: 'log_rotation', subject: t.table, value: hours, threshold: thresholds.logRotationHours,
        message: `${t.table}: oldest unrotated row is ${hours} h old (rotation period ${thresholds.logRotationHours} h): run maintenance rotate-logs`,
      });
    }
  }
  for (const r of metrics.server.replicas) {
    if (!r.reachable || !r.running) {
      alarms.push({
        name: 'replica_down', subject: r.replica, value: r.reachable ? 'stopped' : 'unreachable', threshold: null,
        message: `replica ${r.replica}: ${r.reachable ? 'not replicating' : 'unreachable'}: ${r.error ?? ''}`.trim(),
      });
    } else if (thresholds.replicaLagSeconds !== null && r.lagSeconds !== null && r.lagSeconds > thresholds.replicaLagSeconds) {
      alarms.push({
        name: 'replica_lag', subject: r.replica, value: r.lagSeconds, threshold: thresholds.replicaLagSeconds,
        message: `replica ${r.replica}: ${r.lagSeconds} s behind its primary (threshold ${thresholds.replicaLagSeconds} s)`,
      });
    }
  }
  const offload = metrics.server.maintenance.offload;
  if (thresholds.offloadFailed && offload && offload.ok === false) {
    alarms.push({
      name: 'offload_failed', subject: 'offload', value: offload.startedAt, threshold: true,
      message: `the last offload run (started ${offload.startedAt}) failed${offload.detail ? `: ${offload.detail}` : ''}`,
    });
  }
  if (thresholds.maintenanceUnfinishedMinutes !== null) {
    for (const run of Object.values(metrics.server.maintenance)) {
      const seconds = run?.ok === null ? run.unfinishedSeconds ?? null : null;
      if (run === null || seconds === null || seconds <= thresholds.maintenanceUnfinishedMinutes * 60) continue;
      const minutes = round(seconds / 60);
      alarms.push({
        name: 'maintenance_unfinished', subject: run.step, value: minutes, threshold: thresholds.maintenanceUnfinishedMinutes,
        message: `maintenance ${run.step} started ${run.startedAt} and has recorded no end for ${minutes} min (threshold ` +
          `${thresholds.maintenanceUnfinishedMinutes} min): killed or stuck; run it again (reruns finish what a killed run left)`,
      });
    }
  }
  return alarms;
}
