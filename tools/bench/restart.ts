// Restart (opt-in: --only restart): claims after a kill -9 and restart of a private server whose
// campaign statistics InnoDB never persisted, against the same claims before the restart, in the
// same run (tools/pipeline/restart-drill.ts; measured before claim_batch and complete_batch were
// pinned to their plans: 139 messages/s after such a restart instead of 8,432 before it). The private server is
// started from this machine's server binary, not the --url server: the section runs only when that
// binary is of the --url server's flavour, and is skipped with the reason otherwise.
import { privateServerFlavour, startPrivateServer } from '../harness/private-server';
import { runRestartDrill } from './restart-drill';
import { BenchContext, fmtInt } from './context';
import { RestartSection } from './types';

export interface RestartOptions {
  messages: number;
  workers: number;
}

/** The worker loop's defaults (tools/pipeline/worker.ts), which the drill runs with. */
const DEFAULT_BATCH = 100;
const DEFAULT_LEASE_SECONDS = 60;

/** The section, or why it was skipped. */
export async function runRestartSection(ctx: BenchContext, options: RestartOptions): Promise<RestartSection | string> {
  const local = privateServerFlavour();
  if (local !== ctx.server.flavour) {
    return `restart: skipped: ${local === null ? 'no server binary to start a private server'
      : `the private server would be ${local} (this machine's server binary), the --url server is ${ctx.server.flavour}`}`;
  }
  const server = await startPrivateServer({ label: 'benchrestart' });
  try {
    ctx.log(`restart: private ${local} server on port ${server.port}; ${fmtInt(options.messages)} messages, ${options.workers} workers per phase`);
    const r = await runRestartDrill({ server, messages: options.messages, workers: options.workers, log: (line) => ctx.log(line.replace(/^restart drill: /, 'restart: ')) });
    const phase = (p: typeof r.before, label: string) => ({
      method: p.label, label, status: 'ok' as const, units: p.messages, unit: 'messages', seconds: Math.round(p.seconds * 100) / 100,
      perSecond: p.perSecond, rowsReadPerMessage: p.rowsReadPerMessage, refusedBatches: p.refusedBatches,
      note: `${p.batches} batches, ${p.retries} deadlock retries, ${p.rowsReadPerMessage} row reads per message`,
    });
    return {
      server: `${r.flavour} ${r.version} (private)`, messages: r.messages, workers: options.workers, batchSize: DEFAULT_BATCH, leaseSeconds: DEFAULT_LEASE_SECONDS,
      before: phase(r.before, 'claims before restart'),
      after: phase(r.after, 'claims after restart with unpersisted statistics'),
      ratio: r.before.perSecond ? Number((r.after.perSecond / r.before.perSecond).toFixed(3)) : null,
      persistedRowsAtKill: r.persistedRowsAtKill, estimatedRowsAfterRestart: r.estimatedRowsAfterRestart,
      duplicates: r.duplicates, lost: r.lost, batchesCompletedAfterLease: r.batchesCompletedAfterLease,
      note: `statistics on disk at the kill: ${r.persistedRowsAtKill} rows; the optimiser's estimate after the restart: ${r.estimatedRowsAfterRestart} rows (of ${fmtInt(r.messages)})`,
    };
  } finally {
    await server.stop();
  }
}
