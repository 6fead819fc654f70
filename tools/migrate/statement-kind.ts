// What a migration statement is, as far as resuming it is concerned: whether it can share a
// transaction with the ledger's "statement i done" row, and whether it is a DDL statement whose
// effect the catalogue can confirm after a kill.

export type StatementKind =
  | 'dml'          // INSERT/UPDATE/DELETE/REPLACE (INSERT ... SELECT, WITH ... DELETE): transactional on InnoDB
  | 'transaction'  // START TRANSACTION, BEGIN, COMMIT, ROLLBACK, SAVEPOINT, XA, LOCK/UNLOCK TABLES, SET autocommit
  | 'ddl'          // CREATE/ALTER/DROP/RENAME/TRUNCATE: commits implicitly, cannot join a transaction
  | 'call'         // CALL: may do anything, in or out of a transaction
  | 'session';     // SET, DO, SELECT, ...: no lasting effect, running it again is harmless

/** The statement without its leading comments and blanks (MySQL's client sends comments on). */
export function leadingCode(text: string): string {
  let rest = text;
  for (;;) {
    const trimmed = rest.replace(/^\s+/, '');
    if (/^(--(\s|$)|#)/.test(trimmed)) {
      const end = trimmed.indexOf('\n');
      rest = end < 0 ? '' : trimmed.slice(end + 1);
    } else if (trimmed.startsWith('/*') && !/^\/\*[!M+]/.test(trimmed)) {
      const end = trimmed.indexOf('*/');
      rest = end < 0 ? '' : trimmed.slice(end + 2);
    } else return trimmed;
  }
}

export function statementKind(text: string): StatementKind {
  const code = leadingCode(text).toUpperCase();
  const first = /^[A-Z]+/.exec(code)?.[0] ?? '';
  if (['INSERT', 'UPDATE', 'DELETE', 'REPLACE'].includes(first)) return 'dml';
  if (first === 'WITH') return /\b(UPDATE|DELETE|INSERT)\b/.test(code) ? 'dml' : 'session';
  if (['BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'XA', 'LOCK', 'UNLOCK'].includes(first)) return 'transaction';
  if (first === 'START' && /^START\s+TRANSACTION\b/.test(code)) return 'transaction';
  if (first === 'SET' && /\bAUTOCOMMIT\b/.test(code)) return 'transaction';
  if (['CREATE', 'ALTER', 'DROP', 'RENAME', 'TRUNCATE'].includes(first)) return 'ddl';
  if (first === 'CALL') return 'call';
  if (first === 'LOAD') return 'dml';
  return 'session';
}

/**
 * Whether the file's DML statements may each run in a transaction with their ledger row: not
 * when the file manages transactions itself (our BEGIN would commit its open transaction).
 */
export function fileAllowsLedgerTransactions(texts: string[]): boolean {
  return !texts.some((t) => statementKind(t) === 'transaction');
}
