// `campaign retire`: a campaign set is dropped only after a verified dump of all its tables, and
// the set is frozen first, so that no write the application was told succeeded can miss the dump.
//
// Steps, each named when it fails:
//   preflight   output folder writable, dump tool and client on PATH, the set exists
//   unfinished  no message without a final status (history_move_preview's definition), unless --force;
//               counted once before the freeze (a refusal then changes nothing at all) and again
//               on the frozen set (the count that decides)
//   freeze      the set's state becomes 'retiring' (committed): every routine that writes to or
//               claims from the set refuses it from then on (pipeline_hold_set), and the freeze
//               itself waits, at most --lock-timeout seconds, for the transactions already inside
//               the set to end (the exclusive lock on the campaign's row, which their shared
//               locks hold off: pipeline_hold_set says why that, and not a metadata or user lock)
//   checksum    row count and row checksum of every table of the set
//   dump        one consistent dump of every table (--single-transaction) to DIR/campaign_<id>.sql.gz
//   manifest    DIR/campaign_<id>.manifest.json: every table's rows and checksum, the file's SHA-256
//   verify      the dump restored into the scratch schema <db>_verify holds exactly those rows
//   drop        the tables still hold exactly what was verified; then campaign_set_drop(<id>)
// A retire that fails returns the set to service (its state before), unless its drop had already
// removed tables; the error says which. The caller holds the schema lock; the set's own lock
// (campaign_set_lock_name) is held from the freeze to the drop, so history moves and upgrades of
// the set wait. A run killed after the freeze leaves the set 'retiring' (refused by the routines,
// shown by `campaign list`); running it again resumes: a dump whose manifest matches the tables is
// reused (and verified again), and a set whose drop was cut short is finished from its verified
// dump. cancelRetire (`campaign retire N --cancel`) returns a set left retiring to service.
import fs from 'fs';
import path from 'path';
import { OperationError, UserError } from '../errors';
import { Connection, parseUrl, queryRows } from '../sql/connection';
import { detectServer, ServerInfo } from '../sql/flavour';
import { isRoutineSignal } from '../sql/signals';
import { tableChecksum } from './checksum';
import { dumpTables } from './dump';
import { previewHistory } from './history';
import { readManifest, SetManifest, writeManifest } from './offload';
import { DumpedTable, ensureWritableFolder, pauseIfAsked, requireTool, verifyDumpFile } from './verified-dump';
import { verifyScratchName } from './verify-scratch';
import { tableKinds } from '../campaigns/sets';

/** The steps of a retire, in the order they run. */
export const RETIRE_STEPS = ['preflight', 'unfinished', 'freeze', 'checksum', 'dump', 'manifest', 'verify', 'drop'] as const;
export type RetireStep = typeof RETIRE_STEPS[number];

/** What one step did; a run's record lists every step (skipped: not needed, e.g. a reused dump). */
export interface RetireStepRecord {
  step: RetireStep;
  outcome: 'done' | 'failed' | 'skipped' | 'not-attempted';
  ms: number;
}

export class RetireStepError extends OperationError {
  /** What each step did before the failure, and which were not attempted (filled in by retireCampaignSet). */
  steps: RetireStepRecord[] = [];
  /** afterwards: what the failure left, e.g. 'nothing was dropped; the set is back in service'. */
  constructor(readonly campaignId: number, readonly step: RetireStep, readonly reason: string, readonly afterwards = 'nothing was dropped') {
    super(`campaign ${campaignId}: ${step} failed: ${reason}; ${afterwards}`);
  }
}

export interface RetireOptions {
  /** The database's URL (the dump tool and the verification restore connect with it). */
  url: string;
  campaignId: number;
  outDir: string;
  force?: boolean;
  /**
   * Seconds to wait for the set's lock (a history move or upgrade of the set in progress), and
   * then for the transactions inside the set to end at the freeze. Default 60.
   */
  lockTimeout?: number;
  log?: (line: string) => void;
  /** Called as each step has completed (the specs time the application's calls against them). */
  onStepDone?: (step: RetireStep) => void;
}

export interface RetireResult {
  campaignId: number;
  outcome: 'retired' | 'already-retired';
  /** Messages without a final status when the set was retired (only with --force can it be > 0). */
  unfinished: number;
  tables: DumpedTable[];
  rows: number;
  file?: string;
  manifest?: string;
  /** True when an earlier, interrupted run's dump was verified and used. */
  reusedDump: boolean;
  /** True when the set was left retiring by an interrupted run, which this one finished. */
  resumed: boolean;
  steps: RetireStepRecord[];
}

/** The refusal every routine that writes to or claims from a set being retired gives (pipeline_hold_set). */
export const RETIRING_REFUSAL = /^[a-z_ ]+: campaign \d+: its table set is being retired; nothing was changed$/;

export function setDumpFileName(campaignId: number): string {
  return `campaign_${campaignId}.sql.gz`;
}

export function setManifestFileName(campaignId: number): string {
  return `campaign_${campaignId}.manifest.json`;
}

/** notify false: not reported to onStepDone (the unfinished count before the freeze, a pre-check). */
type StepRunner = <T>(name: RetireStep, fn: () => Promise<T> | T, notify?: boolean) => Promise<T>;

/**
 * Runs the steps of one retire: a failure becomes a RetireStepError naming the step (a UserError
 * passes as it is), and each step's outcome and time join `trail`.
 */
function stepRunner(campaignId: number, trail: RetireStepRecord[], done?: (step: RetireStep) => void): StepRunner {
  return async (name, fn, notify = true) => {
    const started = Date.now();
    let result;
    try {
      result = await fn();
    } catch (err) {
      trail.push({ step: name, outcome: 'failed', ms: Date.now() - started });
      if (err instanceof RetireStepError || err instanceof UserError) throw err;
      const e = err as { sqlMessage?: string; message: string };
      throw new RetireStepError(campaignId, name, e.sqlMessage ?? e.message);
    }
    trail.push({ step: name, outcome: 'done', ms: Date.now() - started });
    if (notify) done?.(name);
    return result;
  };
}

/**
 * The whole record: the steps that ran (a step run twice, like the unfinished count before and
 * after the freeze, once, with both times), then every other step as `rest`.
 */
function completeTrail(trail: RetireStepRecord[], rest: 'skipped' | 'not-attempted'): RetireStepRecord[] {
  return RETIRE_STEPS.map((name) => {
    const runs = trail.filter((r) => r.step === name);
    if (!runs.length) return { step: name, outcome: rest, ms: 0 };
    return { step: name, outcome: runs.some((r) => r.outcome === 'failed') ? 'failed' : 'done', ms: runs.reduce((n, r) => n + r.ms, 0) };
  });
}

/** The set's tables, by kind, and which of them exist now. */
async function setTables(conn: Connection, campaignId: number): Promise<{ all: string[]; existing: string[] }> {
  const all: string[] = [];
  for (const kind of await tableKinds(conn)) {
    const [row] = await queryRows<{ name: string }>(conn, 'SELECT campaign_table_name(?, ?) AS name', [campaignId, kind]);
    all.push(row.name);
  }
  const present = await queryRows<{ name: string }>(conn,
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${all.map(() => '?').join(', ')})`, all);
  const names = new Set(present.map((p) => p.name));
  return { all, existing: all.filter((t) => names.has(t)) };
}

/** The set's state and template version, or null when the campaign has no set; UserError when there is no campaign. */
async function setRow(conn: Connection, campaignId: number): Promise<{ state: string | null; template_version: number }> {
  const [set] = await queryRows<{ state: string | null; template_version: number }>(conn,
    'SELECT s.state, s.template_version FROM campaigns c LEFT JOIN campaign_sets s ON s.campaign_id = c.id WHERE c.id = ?', [campaignId]);
  if (!set) throw new UserError(`campaign ${campaignId} does not exist`);
  return set;
}

/** The set's own lock (campaign_set_lock_name), held while fn runs. */
async function withSetLock<T>(conn: Connection, campaignId: number, timeout: number, what: RetireStep, fn: () => Promise<T>): Promise<T> {
  const lockName = (await queryRows<{ name: string }>(conn, 'SELECT campaign_set_lock_name(?) AS name', [campaignId]))[0].name;
  const [got] = await queryRows<{ got: number | null }>(conn, 'SELECT GET_LOCK(?, ?) AS got', [lockName, timeout]);
  if (got.got !== 1) throw new RetireStepError(campaignId, what, `another session is changing the set (its lock was busy for ${timeout} s)`);
  try {
    return await fn();
  } finally {
    await conn.query('DO RELEASE_LOCK(?)', [lockName]).catch(() => undefined);
  }
}

const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;

/**
 * Commits state 'retiring' in the transaction that holds the campaign row's exclusive lock: it is
 * granted only once every transaction holding pipeline_hold_set's shared lock has ended, and each
 * transaction after it reads 'retiring' and is refused. So when this returns, nothing is inside
 * the set and nothing can enter it. The wait is bounded by innodb_lock_wait_timeout, set for the
 * freeze only; while it waits, new calls queue behind it (InnoDB grants locks in order).
 */
async function freezeSet(conn: Connection, campaignId: number, timeout: number, resumed: boolean): Promise<void> {
  const [{ wait }] = await queryRows<{ wait: number }>(conn, 'SELECT @@SESSION.innodb_lock_wait_timeout AS wait');
  await conn.query('SET SESSION innodb_lock_wait_timeout = ?', [timeout]);
  try {
    await conn.query('START TRANSACTION');
    try {
      // pipeline_hold_set's lock order: the campaign's row, then its campaign_sets row.
      await conn.query('SELECT id FROM campaigns WHERE id = ? FOR UPDATE', [campaignId]);
      await conn.query("UPDATE campaign_sets SET state = 'retiring' WHERE campaign_id = ?", [campaignId]);
      await conn.query('COMMIT');
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === ER_LOCK_WAIT_TIMEOUT || errno === ER_LOCK_DEADLOCK) {
      throw new RetireStepError(campaignId, 'freeze',
        `transactions inside the set (application calls, a message load) did not end within ${timeout} s`,
        resumed ? 'nothing was dropped; the set stays retiring' : 'nothing was changed, the set stays in service');
    }
    throw err;
  } finally {
    await conn.query('SET SESSION innodb_lock_wait_timeout = ?', [Number(wait)]).catch(() => undefined);
  }
}

/** Messages without a final status (history_move_preview's definition); a signal is the user's mistake. */
async function unfinishedMessages(conn: Connection, campaignId: number): Promise<number> {
  try {
    return (await previewHistory(conn, campaignId, 0)).unfinished;
  } catch (err) {
    if (isRoutineSignal(err)) throw new UserError(`campaign ${campaignId}: ${err.sqlMessage.replace(/^history_move_preview: /, '')}`);
    throw err;
  }
}

function unfinishedRefusal(campaignId: number, unfinished: number): UserError {
  return new UserError(`campaign ${campaignId} has ${unfinished} unfinished message(s) (no status yet, or one not final): nothing was changed; --force retires it anyway`);
}

/**
 * After a failure past the freeze: the set goes back to the state it had (in service), unless its
 * drop already removed tables, which only the verified dump can finish. Returns the error to throw,
 * saying which of the two happened.
 */
async function returnToService(conn: Connection, campaignId: number, serviceState: string, err: unknown): Promise<unknown> {
  let afterwards: string;
  let back = false;
  try {
    const { all, existing } = await setTables(conn, campaignId);
    if (existing.length === all.length) {
      await conn.query("UPDATE campaign_sets SET state = ? WHERE campaign_id = ? AND state = 'retiring'", [serviceState, campaignId]);
      back = true;
      afterwards = 'nothing was dropped; the set is back in service';
    } else {
      afterwards = `${all.length - existing.length} of its ${all.length} tables were dropped; the set stays retiring: ` +
        `campaign retire ${campaignId} finishes it from the verified dump`;
    }
  } catch (e) {
    const reason = (e as { sqlMessage?: string; message: string }).sqlMessage ?? (e as Error).message;
    afterwards = `the set stays retiring (returning it to service failed: ${reason}): campaign retire ${campaignId} --cancel returns it`;
  }
  if (err instanceof RetireStepError) return new RetireStepError(campaignId, err.step, err.reason, afterwards);
  if (err instanceof UserError) return back ? err : new UserError(`${err.message}; ${afterwards}`, err.exitCode);
  const e = err as { sqlMessage?: string; message: string };
  return new OperationError(`campaign ${campaignId}: retire failed: ${e.sqlMessage ?? e.message}; ${afterwards}`);
}

export async function retireCampaignSet(conn: Connection, options: RetireOptions): Promise<RetireResult> {
  const trail: RetireStepRecord[] = [];
  try {
    const result = await retireRecorded(conn, options, stepRunner(options.campaignId, trail, options.onStepDone));
    return { ...result, steps: result.outcome === 'already-retired' ? [] : completeTrail(trail, 'skipped') };
  } catch (err) {
    if (err instanceof RetireStepError) err.steps = completeTrail(trail, 'not-attempted');
    throw err;
  }
}

async function retireRecorded(conn: Connection, options: RetireOptions, step: StepRunner): Promise<Omit<RetireResult, 'steps'>> {
  const { campaignId } = options;
  const database = parseUrl(options.url).database;
  if (!database) throw new UserError('the URL must name a database');
  // Before anything changes: a database whose name is too long for <db>_verify is refused here.
  const scratch = verifyScratchName(database);
  const log = options.log ?? (() => undefined);
  const file = path.join(options.outDir, setDumpFileName(campaignId));
  const manifestFile = path.join(options.outDir, setManifestFileName(campaignId));

  const set = await setRow(conn, campaignId);
  if (set.state === null) throw new UserError(`campaign ${campaignId} has no table set`);
  if (set.state === 'retired') {
    return { campaignId, outcome: 'already-retired', unfinished: 0, tables: [], rows: 0, reusedDump: false, resumed: false };
  }

  let server: ServerInfo;
  let tool = '';
  await step('preflight', async () => {
    server = await detectServer(conn);
    try {
      ensureWritableFolder(options.outDir);
    } catch (err) {
      // The CLI checks --out before the schema lock (a UserError); called directly, it is this step's failure.
      throw new RetireStepError(campaignId, 'preflight', (err as Error).message);
    }
    tool = await requireTool(server.dumpCommand);
    await requireTool(server.clientCommand);
  });

  const timeout = options.lockTimeout ?? 60;
  return withSetLock(conn, campaignId, timeout, 'preflight', async () => {
    // Read again under the set's lock: the state the set returns to if this run fails.
    const { state } = await setRow(conn, campaignId);
    if (state === 'retired') return { campaignId, outcome: 'already-retired' as const, unfinished: 0, tables: [], rows: 0, reusedDump: false, resumed: false };
    const resumed = state === 'retiring';
    const serviceState = resumed ? 'active' : state!;
    const { all, existing } = await setTables(conn, campaignId);
    const partlyDropped = existing.length < all.length;
    let manifest = readManifest<SetManifest>(manifestFile);
    if (manifest && (manifest.kind !== 'campaign-set' || manifest.campaignId !== campaignId || manifest.database !== database)) manifest = null;

    // A set missing some of its tables is one whose drop was cut short: it may only be finished
    // from the verified dump of the earlier run, never dumped again (the dump would lack them).
    if (partlyDropped && !manifest) {
      throw new RetireStepError(campaignId, 'preflight',
        `the set lacks ${all.length - existing.length} of its ${all.length} tables (an interrupted drop?) and ${path.basename(manifestFile)} is not in ${options.outDir} to finish from`);
    }
    // Counted before the freeze too, so that a set with unfinished messages is refused without
    // the application ever being refused.
    if (!partlyDropped && !options.force && !resumed) {
      const early = await step('unfinished', () => unfinishedMessages(conn, campaignId), false);
      if (early > 0) throw unfinishedRefusal(campaignId, early);
    }

    log(`campaign ${campaignId}: ${resumed ? 'resuming an interrupted retire' : 'freezing the set'} (waiting up to ${timeout} s for transactions inside it)`);
    await step('freeze', () => freezeSet(conn, campaignId, timeout, resumed));
    try {
      let unfinished = 0;
      if (!partlyDropped) {
        unfinished = await step('unfinished', () => unfinishedMessages(conn, campaignId));
        if (unfinished > 0 && !options.force) throw unfinishedRefusal(campaignId, unfinished);
      }

      const source: DumpedTable[] = await step('checksum', async () => {
        const out: DumpedTable[] = [];
        for (const table of existing) out.push({ table, ...(await tableChecksum(conn, database, table)) });
        return out;
      });

      const matches = (m: SetManifest | null): m is SetManifest => !!m && fs.existsSync(file) && source.every((s) => {
        const t = m.tables.find((x) => x.table === s.table);
        return !!t && t.rows === s.rows && t.checksum === s.checksum;
      });
      const reusedDump = matches(manifest);
      if (!reusedDump) {
        if (partlyDropped) {
          throw new RetireStepError(campaignId, 'checksum', `the tables left of the partly dropped set differ from ${path.basename(manifestFile)}`);
        }
        log(`campaign ${campaignId}: dumping ${existing.length} tables`);
        const sha256 = await step('dump', () => dumpTables(server, options.url, database, existing, file, { onStarted: () => pauseIfAsked('dump') }));
        const written: SetManifest = {
          format: 1, kind: 'campaign-set', database, campaignId, templateVersion: Number(set.template_version),
          tables: source, rows: source.reduce((n, t) => n + t.rows, 0), file: path.basename(file), sha256,
          server: server!.versionComment, tool, createdAt: new Date().toISOString(),
        };
        await step('manifest', () => writeManifest(manifestFile, written));
        manifest = written;
      }
      const verified = manifest!;
      log(`campaign ${campaignId}: verifying ${path.basename(file)} by restoring it into ${scratch}`);
      await step('verify', () => verifyDumpFile(server, options.url, file, verified.sha256, verified.tables,
        { afterRestore: () => pauseIfAsked('verify') }));
      await pauseIfAsked('drop');

      await step('drop', async () => {
        // What is dropped must be what was verified. The freeze keeps the application out; this
        // catches anything else that wrote (a session writing to the tables directly).
        for (const table of (await setTables(conn, campaignId)).existing) {
          const now = await tableChecksum(conn, database, table);
          const want = verified.tables.find((t) => t.table === table);
          if (!want || now.rows !== want.rows || now.checksum !== want.checksum) {
            throw new Error(`${table} changed after it was dumped (${now.rows} rows now, ${want?.rows ?? 'none'} dumped); run retire again`);
          }
        }
        await conn.query('CALL campaign_set_drop(?)', [campaignId]);
      });
      return {
        campaignId, outcome: 'retired' as const, unfinished, tables: verified.tables, rows: verified.rows, file, manifest: manifestFile, reusedDump, resumed,
      };
    } catch (err) {
      throw await returnToService(conn, campaignId, serviceState, err);
    }
  });
}

export interface CancelResult {
  campaignId: number;
  outcome: 'returned-to-service' | 'not-retiring';
  /** The set's state after the call. */
  state: string;
}

/**
 * `campaign retire N --cancel`: a set left retiring by an interrupted retire goes back to service
 * ('active'), if all its tables are still there. A set that is not retiring is left as it is.
 */
export async function cancelRetire(conn: Connection, campaignId: number, lockTimeout = 60): Promise<CancelResult> {
  const set = await setRow(conn, campaignId);
  if (set.state === null) throw new UserError(`campaign ${campaignId} has no table set`);
  return withSetLock(conn, campaignId, lockTimeout, 'preflight', async () => {
    const { state } = await setRow(conn, campaignId);
    if (state === 'retired') throw new UserError(`campaign ${campaignId}: its set is already retired (maintenance restore brings it back from its dump): nothing was changed`);
    if (state !== 'retiring') return { campaignId, outcome: 'not-retiring' as const, state: state! };
    const { all, existing } = await setTables(conn, campaignId);
    if (existing.length < all.length) {
      throw new UserError(`campaign ${campaignId}: cannot return to service, its drop already removed ${all.length - existing.length} of its ${all.length} tables: ` +
        `campaign retire ${campaignId} --out DIR finishes it from the verified dump; nothing was changed`);
    }
    await conn.query("UPDATE campaign_sets SET state = 'active' WHERE campaign_id = ? AND state = 'retiring'", [campaignId]);
    return { campaignId, outcome: 'returned-to-service' as const, state: 'active' };
  });
}
