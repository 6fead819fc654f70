// Typed calls of the pipeline's stored routines, and the deadlock retry every caller needs.
// The routines do the work; this module only shapes their result sets and retries what the
// server asks to retry (a deadlock victim or a lock wait timeout is rolled back whole by the
// routine, so calling again is safe).
import { Connection } from '../sql/connection';

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

export type RunType = 'immediate' | 'scheduled' | 'retry';

export interface ClaimRequest {
  campaignId: number;
  runType: RunType | string;
  worker: string;
  maxRows: number;
  leaseSeconds: number;
}

export interface ClaimedBatch {
  batchId: number;
  campaignId: number;
  runType: string;
  worker: string;
  claimedAt: Date;
  leaseUntil: Date;
  messageCount: number;
}

export interface ClaimedMessage {
  messageId: number;
  contactId: number;
  method: string;
  /** The contact's address for the method; null when the contact has no such channel. */
  address: string | null;
  /** The channel's opt-out time: the worker must not send, and reports "opted_out". */
  optedOutAt: Date | null;
  /** 1 for the first try, 2 for the first retry, ... */
  attempt: number;
  packet: number;
  sendAfter: Date | null;
  subject: string | null;
  body: string | null;
}

export interface Claim {
  batch: ClaimedBatch | null;
  messages: ClaimedMessage[];
}

type Row = Record<string, unknown>;

/** The SELECT result sets of a CALL (mysql2 appends an OK packet after them). */
function resultSets(result: unknown): Row[][] {
  return (result as unknown[]).filter((r) => Array.isArray(r)) as Row[][];
}

const num = (v: unknown) => Number(v);
const date = (v: unknown) => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v)));

export async function claimBatch(conn: Connection, req: ClaimRequest): Promise<Claim> {
  const [result] = await conn.query('CALL claim_batch(?, ?, ?, ?, ?)', [req.campaignId, req.runType, req.worker, req.maxRows, req.leaseSeconds]);
  const [batchRows, messageRows] = resultSets(result);
  const b = batchRows[0];
  return {
    batch: b ? {
      batchId: num(b.batch_id), campaignId: num(b.campaign_id), runType: String(b.run_type), worker: String(b.worker),
      claimedAt: date(b.claimed_at)!, leaseUntil: date(b.lease_until)!, messageCount: num(b.message_count),
    } : null,
    messages: (messageRows ?? []).map((m) => ({
      messageId: num(m.message_id), contactId: num(m.contact_id), method: String(m.method),
      address: m.address === null ? null : String(m.address), optedOutAt: date(m.opted_out_at), attempt: num(m.attempt),
      packet: num(m.packet), sendAfter: date(m.send_after),
      subject: m.subject === null || m.subject === undefined ? null : String(m.subject),
      body: m.body === null || m.body === undefined ? null : String(m.body),
    })),
  };
}

/** One message's outcome as complete_batch reads it (JSON field names in snake_case). */
export interface Outcome {
  message_id: number;
  /** A contact status code: sent, failed, opted_out, ... or "released" to hand the message back untried. */
  status: string;
  provider_ref?: string | null;
  detail?: string | null;
}

export interface Completion {
  batchId: number;
  alreadyCompleted: boolean;
  messageCount: number;
  sent: number;
  failed: number;
  retried: number;
  released: number;
  completedAt: Date;
}

export async function completeBatch(conn: Connection, batchId: number, outcomes: Outcome[] | string): Promise<Completion> {
  const json = typeof outcomes === 'string' ? outcomes : JSON.stringify(outcomes);
  const [result] = await conn.query('CALL complete_batch(?, ?)', [batchId, json]);
  const [r] = resultSets(result)[0];
  return {
    batchId: num(r.batch_id), alreadyCompleted: num(r.already_completed) === 1, messageCount: num(r.message_count),
    sent: num(r.sent_count), failed: num(r.failed_count), retried: num(r.retry_count), released: num(r.released_count),
    completedAt: date(r.completed_at)!,
  };
}
