// Claim and complete: the same rows taken by 1, 4 and 16 workers (separate connections), in
// batches, three ways:
//   pipeline      claim_batch + complete_batch through tools/pipeline/worker.ts: a batch with a
//                 lease, the contact's channel joined in, a status update and the current status
//                 per message, the ready-queue entry settled (everything a real worker gets)
//   bare          SELECT id ... ORDER BY status, send_after, id LIMIT n FOR UPDATE SKIP LOCKED +
//                 UPDATE status, then UPDATE status = done; on a lean copy of the rows with a
//                 (status, send_after, id) index, in READ COMMITTED (the level at which it
//                 survives 16 workers on a default server: see tools/pipeline/README.md and test/pipeline/claim-designs.ts)
//   naive         UPDATE ... SET status, batch_id ... ORDER BY ... LIMIT n (autocommit), then
//                 SELECT by batch_id (indexed) and UPDATE status = done; same lean copy
// Rows are counted per worker: a message completed twice is a duplicate, one never completed is
// lost; both must be 0. The pipeline is also checked in the database (its queue is empty and
// every message has exactly one status update).
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { campaignTableName } from '../campaigns/sets';
import { runWorker, simulatedSender } from '../pipeline/worker';
import { RetryStats, withDeadlockRetry } from '../pipeline/retry';
import { startProgress } from '../progress';
import { BenchContext, countRows, elapsed, fmtInt, freshCampaign, MESSAGE_COLUMNS, messageAt, now, openConnection } from './context';
import { ClaimResult, ClaimSection, rate } from './types';

export interface ClaimOptions {
  rows: number;
  workers: number[];
  batchSize: number;
}

interface Sample {
  maxRowLocks: number | null;
  maxHistoryList: number | null;
}

/**
 * Samples, while fn runs: the most row locks one of the workers' transactions held
 * (information_schema.INNODB_TRX, filtered by the workers' connection ids, so other sessions on a
 * shared server do not count) every 250 ms, and InnoDB's history list length (server-wide: how
 * far purge lags) every second.
 */
async function sampled<T>(ctx: BenchContext, workers: Connection[], fn: () => Promise<T>): Promise<{ value: T; sample: Sample }> {
  const monitor = await openConnection(ctx);
  const sample: Sample = { maxRowLocks: null, maxHistoryList: null };
  const threads = workers.map((c) => c.threadId);
  let done = false;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    for (let tick = 0; !done; tick++) {
      try {
        const [trx] = await queryRows<{ n: number | null }>(monitor,
          'SELECT MAX(trx_rows_locked) AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id IN (?)', [threads]);
        if (trx.n !== null) sample.maxRowLocks = Math.max(sample.maxRowLocks ?? 0, Number(trx.n));
        if (tick % 4 === 0) {
          const [status] = await queryRows<{ Status: string }>(monitor, 'SHOW ENGINE INNODB STATUS');
          const h = /History list length (\d+)/.exec(status.Status);
          if (h) sample.maxHistoryList = Math.max(sample.maxHistoryList ?? 0, Number(h[1]));
        }
      } catch {
        return; // no PROCESS privilege: no sample
      }
      await new Promise<void>((r) => { wake = r; setTimeout(r, 250); });
    }
  })();
  try {
    return { value: await fn(), sample };
  } finally {
    done = true;
    wake();
    await loop;
    await monitor.end().catch(() => monitor.destroy());
  }
}

/** Runs one worker per connection; the first error stops them all (their connections are closed). */
async function allWorkers<T>(conns: Connection[], work: (conn: Connection, index: number) => Promise<T>): Promise<{ values: T[]; error: Error | null }> {
  let error: Error | null = null;
  const settled = await Promise.allSettled(conns.map(async (c, i) => {
    try {
      return await work(c, i);
    } catch (err) {
      if (!error) {
        error = err as Error;
        for (const other of conns) other.destroy();
      }
      throw err;
    }
  }));
  return { values: settled.filter((s): s is PromiseFulfilledResult<Awaited<T>> => s.status === 'fulfilled').map((s) => s.value as T), error };
}

class Tally {
  private seen = new Uint8Array(0);
  private offset = 0;
  duplicates = 0;
  distinct = 0;
  constructor(private readonly ids: { min: number; max: number }) {
    this.offset = ids.min;
    this.seen = new Uint8Array(ids.max - ids.min + 1);
  }

  add(id: number): void {
    const k = id - this.offset;
    if (k < 0 || k >= this.seen.length) {
      this.duplicates++; // not one of the rows: counted as a fault too
      return;
    }
    if (this.seen[k]) this.duplicates++;
    else {
      this.seen[k] = 1;
      this.distinct++;
    }
  }
}

async function idRange(conn: Connection, table: string): Promise<{ min: number; max: number; n: number }> {
  const [row] = await queryRows<{ lo: number; hi: number; n: number }>(conn, `SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM ${quoteIdentifier(table)}`);
  return { min: Number(row.lo), max: Number(row.hi), n: Number(row.n) };
}

function failedResult(method: string, label: string, workers: number, isolation: string, err: Error | string): ClaimResult {
  return { method, label, status: 'failed', units: 0, unit: 'rows', seconds: 0, perSecond: null, workers, duplicates: 0, lost: 0, retries: 0,
    maxRowLocks: null, maxHistoryList: null, isolation, note: (typeof err === 'string' ? err : err.message).split('\n')[0] };
}

async function pipelineRun(ctx: BenchContext, campaignId: number, messages: string, workers: number, batchSize: number): Promise<ClaimResult> {
  const label = 'pipeline: claim_batch + complete_batch';
  const isolation = 'READ COMMITTED (set by claim_batch for its own transaction)';
  const range = await idRange(ctx.conn, messages);
  const tally = new Tally(range);
  const conns = await Promise.all(Array.from({ length: workers }, () => openConnection(ctx)));
  const progress = startProgress({ label: `claim: pipeline, ${workers} worker(s)`, total: range.n, unit: 'rows', mode: ctx.progress });
  try {
    const t0 = now();
    const { value: run, sample } = await sampled(ctx, conns, () => allWorkers(conns, (c, i) => runWorker(c, {
      campaignId, runType: 'immediate', worker: `bench-${i + 1}`, batchSize, leaseSeconds: 600, send: simulatedSender(0),
      onBatch: (_batch, ids) => {
        for (const id of ids) tally.add(id);
        progress.advance(ids.length);
      },
    })));
    const seconds = elapsed(t0);
    progress.finish();
    if (run.error) return failedResult('pipeline', label, workers, isolation, run.error);
    // The database's own account: nothing left in the queue, one status update per message.
    const queue = await campaignTableName(ctx.conn, campaignId, 'ready_queue');
    const updates = await campaignTableName(ctx.conn, campaignId, 'status_updates');
    const left = await countRows(ctx.conn, queue);
    const [su] = await queryRows<{ n: number; d: number }>(ctx.conn, `SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS d FROM ${quoteIdentifier(updates)}`);
    const lost = Math.max(range.n - tally.distinct, left, range.n - Number(su.d));
    const duplicates = Math.max(tally.duplicates, Number(su.n) - Number(su.d));
    return {
      method: 'pipeline', label, status: 'ok', units: range.n, unit: 'rows', seconds, perSecond: rate(range.n, seconds), workers, duplicates, lost,
      retries: run.values.reduce((s, w) => s + w.retries, 0), ...sample, isolation,
      note: `batches of ${batchSize}; ${left} queue entries left; ${su.n} status updates for ${su.d} messages`,
    };
  } finally {
    for (const c of conns) await c.end().catch(() => c.destroy());
  }
}

const BASE_TABLE = 'bench_claim_rows';

/** A lean copy of the campaign's rows: the baselines claim the same messages (same ids, same count). */
async function baselineTable(ctx: BenchContext, messages: string): Promise<void> {
  await ctx.conn.query(`DROP TABLE IF EXISTS ${BASE_TABLE}`);
  await ctx.conn.query(`CREATE TABLE ${BASE_TABLE} (
      id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
      status TINYINT UNSIGNED NOT NULL DEFAULT 0,
      send_after DATETIME(3) NOT NULL,
      batch_id BIGINT UNSIGNED NULL,
      body TEXT NULL,
      KEY ix_bench_claim_ready (status, send_after, id),
      KEY ix_bench_claim_batch (batch_id)
    ) ENGINE = InnoDB`);
  await ctx.conn.query(`INSERT INTO ${BASE_TABLE} (id, send_after, body)
    SELECT id, TIMESTAMP('2025-01-01 00:00:00') + INTERVAL id SECOND, body FROM ${quoteIdentifier(messages)}`);
}

let naiveBatch = 0;

async function baselineRun(ctx: BenchContext, messages: string, kind: 'bare' | 'naive', workers: number, batchSize: number): Promise<ClaimResult> {
  const label = kind === 'bare' ? 'bare SELECT ... FOR UPDATE SKIP LOCKED loop' : 'naive UPDATE ... ORDER BY ... LIMIT claim';
  await baselineTable(ctx, messages);
  const range = await idRange(ctx.conn, BASE_TABLE);
  const tally = new Tally(range);
  const conns = await Promise.all(Array.from({ length: workers }, () => openConnection(ctx)));
  const progress = startProgress({ label: `claim: ${kind}, ${workers} worker(s)`, total: range.n, unit: 'rows', mode: ctx.progress });
  try {
    const [lvl] = await queryRows<{ v: string }>(conns[0], `SELECT @@${ctx.server.isolationVariable} AS v`);
    const level = kind === 'bare' ? 'READ COMMITTED' : `${String(lvl.v).replace('-', ' ')} (session default)`;
    const t0 = now();
    const { value: run, sample } = await sampled(ctx, conns, () => allWorkers(conns, async (c) => {
      const stats: RetryStats = { retries: 0 };
      if (kind === 'bare') await c.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
      for (;;) {
        if (ctx.stopping()) throw new Error('interrupted');
        // The claim: retried whole when the server picks it as a deadlock victim (rolled back).
        const ids = await withDeadlockRetry(async () => {
          if (kind === 'naive') {
            const batch = ++naiveBatch;
            await c.query(`UPDATE ${BASE_TABLE} SET status = 1, batch_id = ? WHERE status = 0 AND send_after <= NOW(3) ORDER BY status, send_after, id LIMIT ?`, [batch, batchSize]);
            return (await queryRows<{ id: number }>(c, `SELECT id FROM ${BASE_TABLE} WHERE batch_id = ?`, [batch])).map((r) => Number(r.id));
          }
          try {
            await c.query('START TRANSACTION');
            const taken = (await queryRows<{ id: number }>(c,
              `SELECT id FROM ${BASE_TABLE} WHERE status = 0 AND send_after <= NOW(3) ORDER BY status, send_after, id LIMIT ? FOR UPDATE SKIP LOCKED`, [batchSize])).map((r) => Number(r.id));
            if (taken.length) await c.query(`UPDATE ${BASE_TABLE} SET status = 1 WHERE id IN (?)`, [taken]);
            await c.query('COMMIT');
            return taken;
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
        }, stats, 50);
        if (!ids.length) break;
        // The completion: the claim is committed, so a deadlock here is retried, not the claim.
        await withDeadlockRetry(() => c.query(`UPDATE ${BASE_TABLE} SET status = 2 WHERE id IN (?)`, [ids]), stats, 50);
        for (const id of ids) tally.add(id);
        progress.advance(ids.length);
      }
      return stats.retries;
    }));
    const seconds = elapsed(t0);
    progress.finish();
    if (run.error) return failedResult(kind, label, workers, level, run.error);
    const left = await countRows(ctx.conn, BASE_TABLE, 'status <> 2');
    return {
      method: kind, label, status: 'ok', units: range.n, unit: 'rows', seconds, perSecond: rate(range.n, seconds), workers,
      duplicates: tally.duplicates, lost: Math.max(range.n - tally.distinct, left), retries: run.values.reduce((s, r) => s + r, 0), ...sample,
      isolation: level, note: `batches of ${batchSize}; ${left} rows not done in the table`,
    };
  } finally {
    for (const c of conns) await c.end().catch(() => c.destroy());
    await ctx.conn.query(`DROP TABLE IF EXISTS ${BASE_TABLE}`).catch(() => undefined);
  }
}

export async function runClaimSection(ctx: BenchContext, options: ClaimOptions): Promise<ClaimSection> {
  const results: ClaimResult[] = [];
  const emailId = ctx.methods.get('email')!;
  for (const workers of options.workers) {
    if (ctx.stopping()) break;
    // A fresh campaign for each worker count: the same rows, loaded and marked ready (not timed).
    const { campaignId, messages } = await freshCampaign(ctx, `claim ${workers}`);
    for (let i = 0; i < options.rows; i += 5000) {
      const batch = Array.from({ length: Math.min(5000, options.rows - i) }, (_, k) => messageAt(i + k, ctx.contactIds, emailId, false));
      await ctx.conn.query(`INSERT INTO ${quoteIdentifier(messages)} (${MESSAGE_COLUMNS.join(', ')}) VALUES ?`, [batch]);
    }
    await ctx.conn.query('CALL mark_packet_ready(?, ?, 1)', [ctx.adminUserId, campaignId]);
    ctx.log(`claim: ${fmtInt(options.rows)} messages ready in campaign ${campaignId}; ${workers} worker(s)`);
    for (const kind of ['pipeline', 'bare', 'naive'] as const) {
      if (ctx.stopping()) break;
      let r: ClaimResult;
      try {
        r = kind === 'pipeline'
          ? await pipelineRun(ctx, campaignId, messages, workers, options.batchSize)
          : await baselineRun(ctx, messages, kind, workers, options.batchSize);
      } catch (err) {
        r = failedResult(kind, kind, workers, '', err as Error);
      }
      results.push(r);
      ctx.log(`claim: ${r.label}, ${workers} worker(s): ${r.status === 'ok'
        ? `${fmtInt(r.perSecond)} rows/s (${r.seconds.toFixed(1)} s), ${r.duplicates} duplicates, ${r.lost} lost, ${r.retries} retries, most row locks ${fmtInt(r.maxRowLocks)}`
        : `${r.status}: ${r.note}`}`);
    }
    await ctx.conn.query('CALL campaign_set_drop(?)', [campaignId]).catch(() => undefined);
  }
  return { rows: options.rows, batchSize: options.batchSize, workers: options.workers, results };
}
