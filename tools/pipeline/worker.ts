// A pipeline worker: claims a batch for its run type, "sends" each message through a sender,
// completes the batch with the outcomes, and loops. Deadlocks and lock wait timeouts are retried
// here (the routines roll their transaction back whole, and a repeated completion is answered
// "already completed"), so none reaches the caller. Used by examples/worker.ts, the bench and the
// tests. It calls the routines through the generated bindings, as application code does.
//
// A completion refused because the batch's lease expired and another batch claimed its messages
// again is an expected outcome of at-least-once delivery (a slow send, a stalled worker): the
// other batch owns those messages now. The loop counts it (refusedBatches, refusedMessages), logs
// one line and goes on claiming; any other error still ends the loop.
import { claimBatch, ClaimBatchMessagesRow, completeBatch, Db, RoutineError } from '../../bindings';
import { RetryStats, withDeadlockRetry } from './retry';

export type RunType = 'immediate' | 'scheduled' | 'retry';

/** A claimed message, as claim_batch's binding returns it. */
export type ClaimedMessage = ClaimBatchMessagesRow;

/** One message's outcome as complete_batch reads it (JSON field names in snake_case). */
export interface Outcome {
  message_id: number;
  /** A contact status code: sent, failed, opted_out, ... or "released" to hand the message back untried. */
  status: string;
  provider_ref?: string | null;
  detail?: string | null;
}

export type Sender = (message: ClaimedMessage) => Promise<Outcome['status']> | Outcome['status'];

export interface WorkerOptions {
  campaignId: number;
  runType: RunType | string;
  worker: string;
  batchSize?: number;
  leaseSeconds?: number;
  send: Sender;
  /** Stop when this says so (checked after every empty claim); default: the first empty claim. */
  shouldStop?: () => boolean | Promise<boolean>;
  /** Pause after an empty claim before trying again (ms). */
  idleMs?: number;
  /** Called with each completed batch (tests check who completed what). */
  onBatch?: (batchId: number, messageIds: number[]) => void;
  /** Called after a claim, before sending: tests use it to kill a worker mid-batch. */
  afterClaim?: (batchId: number, messageIds: number[]) => void | Promise<void>;
  /** Where a refused completion is reported (one line); default: stderr. */
  log?: (line: string) => void;
}

export interface WorkerStats {
  worker: string;
  batches: number;
  messages: number;
  byStatus: Record<string, number>;
  retries: number;
  /** Batches whose completion was refused because their lease expired and they were claimed again. */
  refusedBatches: number;
  /** Messages in those batches (sent by this worker, completed by the batch that claimed them again). */
  refusedMessages: number;
}

/** complete_batch's refusal of a batch whose lease expired and whose messages were claimed again. */
export const LEASE_LOST = /^complete_batch: batch \d+ expired at .* was claimed again: refused$/;

export function isLeaseLost(err: unknown): err is RoutineError {
  return err instanceof RoutineError && err.sqlState === '45000' && LEASE_LOST.test(err.serverMessage);
}

/** Simulated sending: fails with the given probability, skips opted-out or address-less contacts. */
export function simulatedSender(failureRate = 0, random: () => number = Math.random): Sender {
  return (m) => {
    if (m.optedOutAt) return 'opted_out';
    if (!m.address) return 'failed';
    return random() < failureRate ? 'failed' : 'sent';
  };
}

// Ids are BIGINT UNSIGNED, read as bigint by the bindings; the worker's callbacks and the outcome
// JSON take numbers, exact up to 2^53 (Number.MAX_SAFE_INTEGER), far beyond any id sequence here.
export async function runWorker(db: Db, options: WorkerOptions): Promise<WorkerStats> {
  const stats: WorkerStats = { worker: options.worker, batches: 0, messages: 0, byStatus: {}, retries: 0, refusedBatches: 0, refusedMessages: 0 };
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const retry: RetryStats = { retries: 0 };
  for (;;) {
    const claim = await withDeadlockRetry(() => claimBatch(db, {
      campaignId: options.campaignId, runType: options.runType, worker: options.worker,
      maxRows: options.batchSize ?? 100, leaseSeconds: options.leaseSeconds ?? 60,
    }), retry);
    const batch = claim.batch[0];
    if (!batch) {
      if (!options.shouldStop || await options.shouldStop()) break;
      await new Promise((r) => setTimeout(r, options.idleMs ?? 50));
      continue;
    }
    const batchId = Number(batch.batchId);
    const ids = claim.messages.map((m) => Number(m.messageId));
    await options.afterClaim?.(batchId, ids);
    const outcomes: Outcome[] = [];
    for (const m of claim.messages) outcomes.push({ message_id: Number(m.messageId), status: await options.send(m) });
    try {
      await withDeadlockRetry(() => completeBatch(db, { batchId: batch.batchId, outcomes: JSON.stringify(outcomes) }), retry);
    } catch (err) {
      if (!isLeaseLost(err)) throw err;
      stats.refusedBatches++;
      stats.refusedMessages += outcomes.length;
      log(`worker ${options.worker}: ${err.serverMessage} (counted; its messages belong to the batch that claimed them again)`);
      continue;
    }
    options.onBatch?.(batchId, ids);
    stats.batches++;
    stats.messages += outcomes.length;
    for (const o of outcomes) stats.byStatus[o.status] = (stats.byStatus[o.status] ?? 0) + 1;
  }
  stats.retries = retry.retries;
  return stats;
}
