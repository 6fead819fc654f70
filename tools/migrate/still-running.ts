// A killed `migrate up` releases the schema lock at once (its connections close), but the server
// finishes (or rolls back) the statement it was executing first: its thread stays in the
// process list until then. The ledger keeps that thread's id, so a new run or `status` can see
// that the file is still being changed and must not be started again yet.
import { Connection, queryRows } from '../sql/connection';
import { LedgerEntry } from './ledger';

export interface StillRunning {
  name: string;
  /** 1-based. */
  statement: number;
  threadId: number;
}

export async function stillRunningOnServer(conn: Connection, ledger: LedgerEntry[], ownThreads: number[] = []): Promise<StillRunning | null> {
  for (const entry of ledger) {
    if (entry.status !== 'running' || entry.threadId === null || ownThreads.includes(entry.threadId)) continue;
    const rows = await queryRows(conn, 'SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [entry.threadId]);
    if (rows.length) return { name: entry.name, statement: entry.statementsDone + 1, threadId: entry.threadId };
  }
  return null;
}

export function stillRunningMessage(s: StillRunning): string {
  return `statement ${s.statement} of ${s.name}.sql is still running on the server as thread ${s.threadId}: wait for it or KILL ${s.threadId}`;
}
