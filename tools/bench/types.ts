// The shapes of a benchmark run: what each section measures and what bench-results.json holds.
// Every figure says how it was obtained (rows, seconds, the method's own note), so a reader of the
// JSON can judge it without the code.
import type { ServerFlavour } from '../sql/flavour';

export const SECTIONS = ['load', 'claim', 'scale', 'maintenance', 'sqlrun', 'restart'] as const;
export type Section = (typeof SECTIONS)[number];
/** What runs without --only: "restart" is opt-in (it starts, kills and restarts a private server). */
export const DEFAULT_SECTIONS: readonly Section[] = SECTIONS.filter((s) => s !== 'restart');

export type Status = 'ok' | 'failed' | 'skipped';

/** One measured method: how many units in how long. */
export interface RateResult {
  /** Stable key, e.g. "multi-row-insert-1000", "pipeline". */
  method: string;
  label: string;
  status: Status;
  /** Units processed (rows, sets, tables). */
  units: number;
  unit: string;
  seconds: number;
  /** units / seconds; null when not measured. */
  perSecond: number | null;
  /** Why skipped or failed, or what the reader should know about this figure. */
  note?: string;
}

export interface LoadResult extends RateResult {
  /** rows/s divided by the ceiling's rows/s in the same run (null without a ceiling). */
  ratioToCeiling: number | null;
  /** Every repetition's rows/s when the method ran more than once (the best is reported). */
  runs?: number[];
}

export interface LoadSection {
  rows: number;
  sampleRows: number;
  file: { format: 'csv'; bytes: number };
  /** How the ceiling was measured, or why it was not. */
  ceiling: { measured: boolean; client: string | null; clientVersion: string | null; note: string };
  localInfile: { before: boolean; during: boolean; changedByBench: boolean };
  results: LoadResult[];
}

export interface ClaimResult extends RateResult {
  workers: number;
  /** Messages completed by more than one batch (must be 0). */
  duplicates: number;
  /** Messages never completed (must be 0). */
  lost: number;
  /** Deadlocks / lock wait timeouts retried inside the workers. */
  retries: number;
  /** Most row locks one transaction held, sampled from SHOW ENGINE INNODB STATUS about once a second. */
  maxRowLocks: number | null;
  maxHistoryList: number | null;
  /** Session isolation the claim ran in. */
  isolation: string;
}

export interface ClaimSection {
  rows: number;
  batchSize: number;
  workers: number[];
  results: ClaimResult[];
}

export interface TimedCall {
  label: string;
  /** Median of the runs, in milliseconds; null when the call did not finish within the limit. */
  ms: number | null;
  runsMs: number[];
  /** What the call returned, in one number (sets listed, files reported). */
  items: number | null;
  /** Set when the call was stopped (KILL QUERY) after this many seconds. */
  timedOutAfterSeconds?: number;
}

export interface ScaleSection {
  sets: number;
  tablesPerSet: number;
  create: RateResult & { tables: number; tablesPerSecond: number | null };
  upgrade: RateResult & { fromVersion: number; toVersion: number; tablesAltered: number; tablesPerSecond: number | null; setsUpgraded: number };
  /** `campaign list` (listSets) and `migrate status` (migrationStatus) with every set present. */
  list: TimedCall | null;
  status: TimedCall | null;
  /** `migrate drift` (migrateDrift) with every set present, before the throwaway upgrade; items = findings (0 expected). */
  drift?: (TimedCall & { setsCompared: number; tablesCompared: number }) | null;
  tablesInDatabase: number;
  note?: string;
}

export interface MaintenanceSection {
  /** The history move with chunks of 1,000 (the default), as charted. */
  historyMove: RateResult;
  /** The same move with chunks of 100, 1,000 and 10,000, each on its own fresh set; rows/s counts every row moved. */
  historyMoveByChunk: (RateResult & { chunk: number; rowsMoved: number; rowsPerSecond: number | null })[];
  rotate: RateResult;
  offload: RateResult & { bytes: number | null; tables: number };
  /** The same chain by hand on a copy of the same rows: dump tool | gzip, gunzip | client, count + checksum, drop. */
  offloadByHand: RateResult & { steps: Record<string, number> };
  /** The toolkit's offload steps, timed (from its log lines). */
  offloadSteps: Record<string, number>;
  /** toolkit offload rows/s / by-hand rows/s (target >= 0.9). */
  offloadRatio: number | null;
}

/** `sql run` against the server's own client replaying the same dump (bytes per second). */
export interface SqlRunSection {
  megabytes: number;
  rows: number;
  /** The dump's size. */
  bytes: number;
  dumpCommand: string;
  /** The client, then the runner. */
  results: RateResult[];
  /** runner bytes/s / client bytes/s (target >= 0.8). */
  ratio: number | null;
}

/**
 * Claims before and after a kill -9 and restart of a private server whose campaign statistics
 * were never persisted (tools/pipeline/restart-drill.ts): the same workers on the two halves of
 * one campaign, so the ratio is of the same run on the same server.
 */
export interface RestartSection {
  /** The private server's flavour and version (started from this machine's binary, not --url). */
  server: string;
  messages: number;
  workers: number;
  batchSize: number;
  leaseSeconds: number;
  before: RateResult & { rowsReadPerMessage: number; refusedBatches: number };
  after: RateResult & { rowsReadPerMessage: number; refusedBatches: number };
  /** after / before messages per second (target >= 0.8). */
  ratio: number | null;
  persistedRowsAtKill: number;
  estimatedRowsAfterRestart: number;
  duplicates: number;
  lost: number;
  batchesCompletedAfterLease: number;
  note?: string;
}

export interface TargetCheck {
  name: string;
  description: string;
  /** measured / reference */
  ratio: number | null;
  threshold: number;
  /** null: could not be judged (a side was not measured). */
  pass: boolean | null;
  note?: string;
}

export interface MachineInfo {
  hostname: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  /** 1-minute load averages sampled during the run. */
  load: { start: number; end: number; max: number; mean: number };
  note: string;
}

export interface ServerReport {
  url: string;
  flavour: ServerFlavour;
  version: string;
  versionComment: string;
  durability: {
    innodb_flush_log_at_trx_commit: string | null;
    sync_binlog: string | null;
    log_bin: string | null;
    binlog_format: string | null;
    innodb_doublewrite: string | null;
  };
  innodb_buffer_pool_size_mb: number | null;
  isolation: string | null;
  local_infile: boolean;
}

export interface BenchReport {
  format: 1;
  tool: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  machine: MachineInfo;
  server: ServerReport;
  database: string;
  options: Record<string, unknown>;
  load?: LoadSection;
  claim?: ClaimSection;
  scale?: ScaleSection;
  maintenance?: MaintenanceSection;
  sqlrun?: SqlRunSection;
  restart?: RestartSection;
  targets: TargetCheck[];
  /** Correctness: every claim run completed each message exactly once. */
  correct: boolean;
  notes: string[];
}

export function rate(units: number, seconds: number): number | null {
  if (!(seconds > 0)) return null;
  return Math.round(units / seconds);
}
