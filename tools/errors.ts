// Error kinds shared by every module. The CLI maps them to exit codes:
// UserError -> 1 with its one-line message; anything else -> 2 (a failure of the tool or server).

/** A mistake in what the user asked for or gave us: shown as one line, exit code 1. */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** A known operational failure worth a clear one-line reason, but not the user's mistake: exit code 2. */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

/** Exit code of a check that ran fine and found differences (`migrate drift`, a refused `migrate baseline`). */
export const FINDINGS_EXIT_CODE = 3;
