// What `migrate up` does besides running files, as hooks: each one's outcome joins the run's
// report, so a failing step after the files never throws away the record of the files applied.
// The migrator knows only this interface; the default list (campaign sets, routine grants) is
// built in default-hooks.ts, the one module that knows those capabilities.
import { Connection } from '../sql/connection';

export interface HookContext {
  database: string;
  /** The checkout the files came from. */
  root: string;
  /** Set when `up --to N` stopped short of the newest version. */
  stoppedAt?: number;
  quiet: boolean;
}

export interface MigrationHook {
  readonly name: string;
  /**
   * Before any file runs, when the run will re-create routines: throw a UserError to refuse the
   * run while nothing has changed yet.
   */
  beforeRoutines?(conn: Connection, ctx: HookContext): Promise<void>;
  /**
   * Right after a repeatable file created `routine`, on the same connection, before the next
   * statement (so a routine is never left without what the hook gives it for longer than that).
   * A throw fails the file at that statement.
   */
  afterRoutine?(conn: Connection, ctx: HookContext, routine: string): Promise<void>;
  /** After every file succeeded, still under the schema lock. Returns the lines for the report. */
  run(conn: Connection, ctx: HookContext): Promise<HookRun>;
}

export interface HookRun {
  lines: string[];
  /** Set when the step did not do all it should; the run is then not ok. */
  error?: string;
  /** Set when the step chose not to run (e.g. `--to`); it is not a failure. */
  skipped?: string;
}

export interface HookResult {
  name: string;
  outcome: 'done' | 'failed' | 'skipped' | 'not-executed';
  lines: string[];
  /** Why it failed. */
  error?: string;
  /** Why it was skipped. */
  reason?: string;
  ms: number;
}

/**
 * Runs every hook in order. Each runs whatever an earlier one did (they change different things):
 * a thrown error or a returned one fails that hook alone.
 */
export async function runHooks(conn: Connection, ctx: HookContext, hooks: readonly MigrationHook[]): Promise<HookResult[]> {
  const results: HookResult[] = [];
  for (const hook of hooks) {
    const started = Date.now();
    try {
      const run = await hook.run(conn, ctx);
      const outcome = run.error ? 'failed' : run.skipped ? 'skipped' : 'done';
      results.push({ name: hook.name, outcome, lines: run.lines, error: run.error, reason: run.error ? undefined : run.skipped, ms: Date.now() - started });
    } catch (err) {
      const e = err as { sqlMessage?: string; message?: string };
      results.push({ name: hook.name, outcome: 'failed', lines: [], error: e.sqlMessage ?? e.message ?? String(err), ms: Date.now() - started });
    }
  }
  return results;
}

/** The hooks of a run whose files did not all succeed: none of them ran. */
export function hooksNotExecuted(hooks: readonly MigrationHook[]): HookResult[] {
  return hooks.map((h) => ({ name: h.name, outcome: 'not-executed', lines: [], ms: 0 }));
}
