// Raw CALLs of claim_batch and complete_batch shaped into plain objects, for the procedure specs:
// they test the SQL routines on their own, independent of the generated bindings (which
// test/codegen checks against raw CALLs too). Application code uses bindings/ instead.
import { Connection } from '../../tools/sql/connection';
import { Outcome, RunType } from '../../tools/pipeline/worker';

export { Outcome, RunType };

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
