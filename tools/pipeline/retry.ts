// The deadlock retry every caller of the pipeline routines needs: a deadlock victim or a lock
// wait timeout is rolled back whole by the routine, so calling again is safe.

/** ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT: the statement's transaction was rolled back; try again. */
const RETRYABLE_ERRNOS = new Set([1213, 1205]);

export function isRetryable(err: unknown): boolean {
  return RETRYABLE_ERRNOS.has((err as { errno?: number })?.errno ?? 0);
}

export interface RetryStats {
  retries: number;
}

/** Runs fn again while the server reports a deadlock or lock wait timeout, with a short jittered backoff. */
export async function withDeadlockRetry<T>(fn: () => Promise<T>, stats?: RetryStats, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || attempt >= attempts) throw err;
      if (stats) stats.retries++;
      await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }
}
