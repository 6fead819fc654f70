// Alarm thresholds: the one place that knows their names, defaults and valid values. They come
// from the environment's "health" object in database.json; command-line flags override them for
// one run (with --url there is no environment, so the defaults apply unless flags say otherwise).
import { UserError } from '../errors';

export interface Thresholds {
  /** Alarm when a campaign's oldest claimable message has waited longer than this; null: off. */
  oldestReadyMinutes: number | null;
  /** Alarm when a campaign has more expired leases (batches still holding messages) than this; null: off. */
  expiredLeases: number | null;
  /** Alarm when a live log table's oldest row is older than this (rotation is overdue); null: off. */
  logRotationHours: number | null;
  /** Alarm when a replica is further behind than this; null: off (an unreachable or stopped replica still alarms). */
  replicaLagSeconds: number | null;
  /** Alarm when the last offload run failed. */
  offloadFailed: boolean;
  /**
   * Alarm when a maintenance step's latest run started longer ago than this and recorded no end:
   * killed (or stuck), since a step records its end even when it fails; null: off.
   */
  maintenanceUnfinishedMinutes: number | null;
}

export type ThresholdName = keyof Thresholds;

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = {
  oldestReadyMinutes: 15,
  expiredLeases: 0,
  logRotationHours: 24,
  replicaLagSeconds: 30,
  offloadFailed: true,
  maintenanceUnfinishedMinutes: 360,
};

export const THRESHOLD_NAMES = Object.keys(DEFAULT_THRESHOLDS) as ThresholdName[];

/** Checks one threshold's value; `where` names its source for the message (database.json ..., --flag). */
export function parseThresholdValue(name: string, value: unknown, where: string): Thresholds[ThresholdName] {
  if (!(THRESHOLD_NAMES as string[]).includes(name)) {
    throw new UserError(`${where}: unknown health threshold "${name}" (known: ${THRESHOLD_NAMES.join(', ')})`);
  }
  if (name === 'offloadFailed') {
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new UserError(`${where}: health threshold "offloadFailed" must be true or false, got ${JSON.stringify(value)}`);
  }
  if (value === null || value === 'off') return null;
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
    throw new UserError(`${where}: health threshold "${name}" must be a number of 0 or more (or null/"off" for no alarm), got ${JSON.stringify(value)}`);
  }
  return n;
}

/** The thresholds of an environment's raw settings (their "health" object), over the defaults. */
export function thresholdsFromSettings(settings: Record<string, unknown>, where: string): Thresholds {
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS };
  const raw = settings.health;
  if (raw === undefined) return thresholds;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new UserError(`${where}: "health" must be an object of thresholds (${THRESHOLD_NAMES.join(', ')})`);
  }
  for (const [name, value] of Object.entries(raw)) {
    (thresholds as unknown as Record<string, unknown>)[name] = parseThresholdValue(name, value, `${where}, "health"`);
  }
  return thresholds;
}

/** Applies command-line overrides (already named by threshold) on top. */
export function withOverrides(thresholds: Thresholds, overrides: Partial<Record<ThresholdName, string>>): Thresholds {
  const result: Thresholds = { ...thresholds };
  for (const [name, text] of Object.entries(overrides)) {
    if (text === undefined) continue;
    (result as unknown as Record<string, unknown>)[name] = parseThresholdValue(name, text, `--${flagOf(name as ThresholdName)}`);
  }
  return result;
}

/** The command-line flag of a threshold: oldestReadyMinutes -> oldest-ready-minutes. */
export function flagOf(name: ThresholdName): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
