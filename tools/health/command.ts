// `reminderly-db health`: metrics, alarms against the environment's thresholds, exit 3 (findings) when one is breached, 2 when the server could not be read.
import { Command, Option } from 'commander';
import { TargetFlags, targetOf, withTargetOptions } from '../cli-options';
import { CONFIG_FILE } from '../config/environments';
import { ExitCode, failure, isServerOrSystemError, OperationError, UserError } from '../errors';
import { connect, Connection, parseUrl } from '../sql/connection';
import { evaluateAlarms } from './alarms';
import { formatJson, formatPrometheus, formatText, healthReport } from './format';
import { readHealthMetrics } from './metrics';
import { flagOf, ThresholdName, THRESHOLD_NAMES, thresholdsFromSettings, withOverrides } from './thresholds';

export const DEFAULT_WINDOW_MINUTES = 15;

/** "15m", "2h" or a bare number of minutes; 1 minute to 24 hours (what health_campaigns accepts). */
export function parseWindow(text: string): number {
  const m = /^(\d+)\s*(m|min|h)?$/.exec(text.trim());
  const minutes = m ? Number(m[1]) * (m[2] === 'h' ? 60 : 1) : NaN;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
    throw new UserError(`--window must be 1m to 24h (e.g. 15m, 1h), got "${text}"`);
  }
  return minutes;
}

type HealthFlags = TargetFlags & { json?: boolean; prometheus?: boolean; window: string; replica?: string[] } & Partial<Record<ThresholdName, string>>;

export function registerHealthCommands(program: Command): void {
  const cmd = withTargetOptions(program.command('health')
    .description('per-campaign queue metrics, log/history sizes, replica lag and the last maintenance runs; exit 3 when an alarm threshold is breached, 2 when the server could not be read'))
    .option('--json', 'print the report as JSON (healthy, thresholds, alarms[], server, campaigns[])')
    .option('--prometheus', 'print the metrics in the Prometheus text exposition format 0.0.4')
    .option('--window <duration>', 'claim-rate window, e.g. 15m or 1h', `${DEFAULT_WINDOW_MINUTES}m`)
    .addOption(new Option('--replica <url...>', 'also check this replica (besides the environment\'s "replicas")'));
  for (const name of THRESHOLD_NAMES) {
    cmd.addOption(new Option(`--${flagOf(name)} <value>`, `override the "${name}" threshold for this run (${name === 'offloadFailed' ? 'true|false' : 'a number, or off'})`));
  }
  cmd.action(async (flags: HealthFlags) => {
    if (flags.json && flags.prometheus) throw new UserError('health: give --json or --prometheus, not both');
    const windowMinutes = parseWindow(flags.window);
    const target = targetOf(flags);
    const replicaUrls = [...target.replicas, ...(flags.replica ?? [])];
    replicaUrls.forEach((url) => parseUrl(url));
    const configured = target.env === 'url' ? {} : target.settings;
    const thresholds = withOverrides(thresholdsFromSettings(configured, `${CONFIG_FILE}, environment "${target.env}"`),
      Object.fromEntries(THRESHOLD_NAMES.map((name) => [name, flags[name]])));

    let conn: Connection;
    try {
      conn = await connect(target.url);
    } catch (err) {
      // The URL was checked above: not reaching the server is an operational failure, not a mistake.
      // Access denied or an unknown database is the configuration (1); an unreachable server is 2.
      throw err instanceof UserError || err instanceof OperationError ? new OperationError(`health: ${err.message}`, err.exitCode) : err;
    }
    let metrics;
    try {
      metrics = await readHealthMetrics(conn, { windowMinutes, replicaUrls });
    } catch (err) {
      // A server error while reading (connection lost, routine missing before `migrate up`) is an
      // operational failure: one line, exit 2, as cron and monitors expect.
      throw isServerOrSystemError(err) ? failure('health: could not read the server', err) : err;
    } finally {
      await conn.end().catch(() => conn.destroy());
    }
    const alarms = evaluateAlarms(metrics, thresholds);
    const report = healthReport(metrics, thresholds, alarms);
    process.stdout.write(flags.json ? formatJson(report) : flags.prometheus ? formatPrometheus(report) : formatText(report));
    if (alarms.length) {
      // Breached alarms are findings (exit 3), told apart from "could not read the server" (exit 2).
      throw new OperationError(`health: ${alarms.length} alarm(s): ${alarms.map((a) => `${a.name} (${a.subject})`).join(', ')}`, ExitCode.Findings);
    }
  });
}
