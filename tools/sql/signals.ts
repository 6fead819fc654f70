// Routines reject bad input with SIGNAL SQLSTATE '45000': that is the user's mistake, reported as
// the routine's own message; every other server error stays a failure.
import { UserError } from '../errors';

export const SIGNAL_SQLSTATE = '45000';

export function isRoutineSignal(err: unknown): err is Error & { sqlState: string; sqlMessage: string } {
  return typeof err === 'object' && err !== null && (err as { sqlState?: string }).sqlState === SIGNAL_SQLSTATE;
}

/** Runs fn, turning a routine's SIGNAL into a UserError carrying the routine's message. */
export async function signalsAsUserErrors<T>(fn: () => Promise<T>, context = ''): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isRoutineSignal(err)) throw new UserError(context ? `${context}: ${err.sqlMessage}` : err.sqlMessage);
    throw err;
  }
}
