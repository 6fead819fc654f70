// Error kinds shared by every module, and the one table of exit codes (README "Exit codes").
// The CLI (tools/cli.ts) is the only place that turns an error into a line on stderr and a code.

/** Every exit code the CLI uses. */
export const ExitCode = {
  /** Done, nothing to report. */
  Success: 0,
  /** A user mistake or bad configuration (bad argument, URL, environment, refused input): one line. */
  Usage: 1,
  /** The server or the machine failed (a statement rejected, a lock timed out, a file not written). */
  Failure: 2,
  /** The command ran and found something to act on (health: an alarm is breached). */
  Findings: 3,
  /** Stopped by SIGINT/SIGTERM (128 + SIGINT, the shell's convention). */
  Interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake in what the user asked for or gave us: shown as one line, exit code 1. */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, readonly exitCode: number = ExitCode.Usage) {
    super(message);
  }
}

/** A known operational failure worth a clear one-line reason, but not the user's mistake: exit code 2. */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(message: string, readonly exitCode: number = ExitCode.Failure) {
    super(message);
  }
}

interface ServerOrSystemError {
  code?: string;
  errno?: number;
  sqlState?: string;
  sqlMessage?: string;
  syscall?: string;
  path?: string;
  message?: string;
}

/** Whether err came from the server (mysql2 sets sqlState) or the operating system (syscall). */
export function isServerOrSystemError(err: unknown): boolean {
  const e = err as ServerOrSystemError | null;
  return !!e && typeof e === 'object' && (typeof e.sqlState === 'string' || typeof e.syscall === 'string'
    || (typeof e.code === 'string' && /^(E[A-Z]+|ER_[A-Z_]+|PROTOCOL_[A-Z_]+)$/.test(e.code)));
}

/**
 * A server or OS error as one line: "ER_NO_SUCH_TABLE (errno 1146, SQLSTATE 42S02): Table ... doesn't
 * exist" or "ENOENT (open /x/y): no such file or directory".
 */
export function describeError(err: unknown): string {
  const e = (err ?? {}) as ServerOrSystemError;
  const text = (e.sqlMessage ?? e.message ?? String(err)).replace(/\s+/g, ' ').trim();
  if (e.sqlState) return `${e.code ?? 'server error'} (errno ${e.errno ?? '?'}, SQLSTATE ${e.sqlState}): ${text}`;
  if (e.syscall) {
    const what = [e.syscall, e.path].filter(Boolean).join(' ');
    return `${e.code ?? 'OS error'} (${what}): ${text.replace(new RegExp(`^${e.code ?? '\\0'}:\\s*`), '')}`;
  }
  return e.code ? `${e.code}: ${text}` : text;
}

/** A failure while doing `doing`, as an OperationError naming it and the server/OS code. */
export function failure(doing: string, err: unknown): OperationError {
  return new OperationError(`${doing}: ${describeError(err)}`);
}

/** Exit code of a check that ran fine and found differences (`migrate drift`, a refused `migrate baseline`). */
export const FINDINGS_EXIT_CODE = ExitCode.Findings;
