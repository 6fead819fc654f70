// maintenance_runs (schema/V0050): each maintenance step writes a row with ok NULL when it starts
// and sets ok, finished_at and a short detail when it ends, so `reminderly-db health` can alarm
// on a failed or stuck step without reading cron mail. A row left with ok NULL is a killed run.
// Times are the server's CURRENT_TIMESTAMP (the column default), so health compares like with like.
import { OperationError, UserError } from '../errors';
import { Connection, queryRows, withConnection } from '../sql/connection';

/** The step names recorded in maintenance_runs, which health reads: exactly these. */
export const MAINTENANCE_STEPS = ['history', 'rotate-logs', 'offload', 'run'] as const;
export type MaintenanceStep = (typeof MAINTENANCE_STEPS)[number];

export interface StepOutcome {
  ok: boolean;
  detail: string;
}

const DETAIL_MAX = 2000;
/** ER_NO_SUCH_TABLE: a database without the migration (a bare test database) records nothing. */
const NO_SUCH_TABLE = 1146;

function messageOf(err: unknown): string {
  const e = err as { sqlMessage?: string; message?: string };
  return e.sqlMessage ?? e.message ?? String(err);
}

/**
 * Runs one maintenance step between its start and end rows in maintenance_runs. The outcome comes
 * from `judge` (a step may finish and still have failed, e.g. one table of five); a step that
 * throws is recorded as failed with the error's message, and the error goes on to the caller.
 * Recording never makes the step fail: a database without the table, or a lost connection, is
 * reported through `warn` only.
 */
export async function recordMaintenanceStep<T>(url: string, step: MaintenanceStep, fn: () => Promise<T>,
  judge: (result: T) => StepOutcome, warn: (line: string) => void = () => undefined): Promise<T> {
  let runId: number | null = null;
  try {
    runId = await withConnection(url, async (conn) => {
      const [result] = await conn.query('INSERT INTO maintenance_runs (step) VALUES (?)', [step]);
      return Number((result as { insertId: number }).insertId);
    });
  } catch (err) {
    // Not even connecting (connect's own one-line error): the step cannot run either, so that is the error.
    if (err instanceof UserError || err instanceof OperationError) throw err;
    if ((err as { errno?: number }).errno !== NO_SUCH_TABLE) warn(`maintenance_runs: could not record the start of ${step}: ${messageOf(err)}`);
  }
  const finish = async (outcome: StepOutcome) => {
    if (runId === null) return;
    try {
      await withConnection(url, (conn) => conn.query('UPDATE maintenance_runs SET ok = ?, finished_at = CURRENT_TIMESTAMP(3), detail = ? WHERE id = ?',
        [outcome.ok ? 1 : 0, outcome.detail.slice(0, DETAIL_MAX), runId]));
    } catch (err) {
      warn(`maintenance_runs: could not record the end of ${step} (row ${runId} stays ok NULL): ${messageOf(err)}`);
    }
  };
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await finish({ ok: false, detail: messageOf(err) });
    throw err;
  }
  await finish(judge(result));
  return result;
}

export interface RecordedRun {
  id: number;
  step: string;
  startedAt: Date;
  finishedAt: Date | null;
  ok: number | null;
  detail: string | null;
  /** Seconds since it started, on the server's clock, while it has recorded no end (running or killed); else null. */
  unfinishedSeconds: number | null;
}

/** The latest row of a step (what health reads), or null. */
export async function latestRun(conn: Connection, step: MaintenanceStep): Promise<RecordedRun | null> {
  const [row] = await queryRows<RecordedRun>(conn,
    `SELECT id, step, started_at AS startedAt, finished_at AS finishedAt, ok, detail,
            CASE WHEN finished_at IS NULL THEN TIMESTAMPDIFF(SECOND, started_at, CURRENT_TIMESTAMP(3)) END AS unfinishedSeconds FROM maintenance_runs
      WHERE step = ? ORDER BY started_at DESC, id DESC LIMIT 1`, [step]);
  return row ? {
    ...row, id: Number(row.id), ok: row.ok === null ? null : Number(row.ok), unfinishedSeconds: row.unfinishedSeconds === null ? null : Number(row.unfinishedSeconds),
  } : null;
}
