// Example worker: claims batches of a campaign by run type, "sends" them (simulated, with a
// configurable failure rate), completes each batch, and loops until nothing is ready.
//
//   npx ts-node -T examples/worker.ts --url mysql://root@127.0.0.1:3306/reminderly_dev --campaign 42 \
//     [--run-type immediate,scheduled,retry] [--batch 100] [--lease 60] [--failure-rate 0.05] [--workers 4]
//
// Each worker has its own connection. Deadlocks are retried inside the worker loop
// (tools/pipeline/worker.ts), so they never reach this script; neither does a completion refused
// because the batch's lease expired and its messages were claimed again (counted and reported). The worker calls claim_batch and
// complete_batch through the generated bindings (bindings/claim-batch.ts, complete-batch.ts).
import { parseArgs } from 'util';
import { connect } from '../tools/sql/connection';
import { runWorker, simulatedSender, WorkerStats } from '../tools/pipeline/worker';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/reminderly_dev' },
      campaign: { type: 'string' },
      'run-type': { type: 'string', default: 'immediate,scheduled,retry' },
      batch: { type: 'string', default: '100' },
      lease: { type: 'string', default: '60' },
      'failure-rate': { type: 'string', default: '0' },
      workers: { type: 'string', default: '1' },
    },
  });
  if (!values.campaign || !/^\d+$/.test(values.campaign)) throw new Error('--campaign N is required');
  const campaignId = Number(values.campaign);
  const runTypes = values['run-type']!.split(',').map((s) => s.trim()).filter(Boolean);
  const failureRate = Number(values['failure-rate']);
  if (!(failureRate >= 0 && failureRate <= 1)) throw new Error('--failure-rate must be between 0 and 1');
  const workers = Math.max(1, Number(values.workers));
  const started = Date.now();
  const totals: Record<string, number> = {};
  // Passes over the run types until one pass finds nothing ready in any of them: a retry
  // scheduled by a failure in this pass is claimed in a later pass once its backoff elapsed.
  for (let pass = 1; ; pass++) {
    let claimed = 0;
    for (const runType of runTypes) {
      const stats: WorkerStats[] = await Promise.all(Array.from({ length: workers }, async (_, i) => {
        const conn = await connect(values.url!);
        try {
          return await runWorker(conn, {
            campaignId, runType, worker: `example-${process.pid}-${i}`, batchSize: Number(values.batch), leaseSeconds: Number(values.lease),
            send: simulatedSender(failureRate),
          });
        } finally {
          await conn.end();
        }
      }));
      const messages = stats.reduce((s, w) => s + w.messages, 0);
      claimed += messages;
      for (const w of stats) for (const [status, n] of Object.entries(w.byStatus)) totals[status] = (totals[status] ?? 0) + n;
      if (messages) {
        console.log(`pass ${pass} ${runType}: ${messages} messages in ${stats.reduce((s, w) => s + w.batches, 0)} batches` +
          ` (${stats.reduce((s, w) => s + w.retries, 0)} deadlock retries, ` +
          `${stats.reduce((s, w) => s + w.refusedBatches, 0)} completions refused after a lost lease)`);
      }
    }
    if (!claimed) break;
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`nothing ready: done in ${seconds.toFixed(1)} s; outcomes ${JSON.stringify(totals)}`);
}

main().catch((err: Error & { sqlMessage?: string }) => {
  console.error(`worker: ${err.sqlMessage ?? err.message}`);
  process.exitCode = 1;
});
