// One benchmark run on one server: a fresh throwaway database (rdbt_*_bench, dropped at the end,
// also on Ctrl-C; a killed run's database is dropped by the next harness clean-up), migrated and
// seeded with one company of 10,000 contacts, then the chosen sections, then bench-results.json
// and the chart.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { generateCoreData } from '../campaigns/generator';
import { createThrowawayDatabase, ThrowawayDatabase } from '../harness/database';
import { migrateDatabase } from '../harness/migrated';
import { ExitCode, OperationError } from '../errors';
import { ProgressOptions } from '../progress';
import { connect, queryRows, withConnection } from '../sql/connection';
import { detectServer } from '../sql/flavour';
import { runClaimSection } from './claim';
import { BenchContext } from './context';
import { describeMachine, describeServerForBench, startLoadSampler } from './environment';
import { runLoadSection } from './load';
import { runMaintenanceSection } from './maintenance';
import { evaluateTargets } from './report';
import { runRestartSection } from './restart';
import { runScaleSection } from './scale';
import { runSqlRunSection } from './sqlrun';
import { renderChart } from './svg';
import { BenchReport, Section } from './types';

export interface BenchOptions {
  serverUrl: string;
  rows: number;
  sampleRows: number;
  claimRows: number;
  workers: number[];
  batchSize: number;
  scaleSets: number;
  /** campaign list is stopped after this many seconds (it may not scale). */
  callTimeoutSeconds: number;
  maintenanceRows: number;
  /** Log rows for the offload comparison. */
  offloadRows: number;
  /** Size of the dump the "sql run" section replays. */
  sqlRunMegabytes: number;
  /** Messages of the restart section's campaign (half claimed before the restart, half after). */
  restartRows: number;
  loadRepeats: number;
  contacts: number;
  only: Section[];
  enableLocalInfile: boolean;
  out: string | null;
  svg: string | null;
  progress: ProgressOptions['mode'];
  log: (line: string) => void;
}

export interface BenchRun {
  report: BenchReport;
  /** Sections that stopped with an error (the report says which and why). */
  failedSections: string[];
}

/** Undo steps that must run however the run ends (drop the database, restore a server setting). */
class Undo {
  private steps = new Map<number, { label: string; fn: () => Promise<unknown> }>();
  private seq = 0;

  add(label: string, fn: () => Promise<unknown>): () => void {
    const id = ++this.seq;
    this.steps.set(id, { label, fn });
    return () => this.steps.delete(id);
  }

  async runAll(log: (line: string) => void): Promise<void> {
    for (const [id, step] of [...this.steps].reverse()) {
      this.steps.delete(id);
      try {
        await step.fn();
      } catch (err) {
        log(`could not ${step.label}: ${(err as Error).message}`);
      }
    }
  }
}

export async function runBench(options: BenchOptions): Promise<BenchRun> {
  const started = new Date();
  const sampler = startLoadSampler();
  const undo = new Undo();
  const notes: string[] = [];
  const failedSections: string[] = [];
  let stopping = false;
  const connections = new Set<import('../sql/connection').Connection>();
  const log = options.log;

  const { server, serverReport } = await withConnection(options.serverUrl, async (conn) => {
    const server = await detectServer(conn);
    return { server, serverReport: await describeServerForBench(conn, server, options.serverUrl) };
  }, { database: null });

  // Ctrl-C: stop the server-side work of this run's connections (KILL, so the DROP DATABASE does
  // not wait for their locks) and let the run unwind: the finally below restores what was changed
  // and drops the database, then the command exits 130 without writing results. A second Ctrl-C
  // exits at once (the database is then dropped by the next harness clean-up: rdbt_ + a dead pid).
  const onSignal = () => {
    if (stopping) {
      log('second interrupt: exiting now; the bench database is left for the next clean-up');
      process.exit(ExitCode.Interrupted);
    }
    stopping = true;
    log('interrupted: stopping this run\'s queries, then restoring settings and dropping the bench database');
    const threads = [...connections].map((c) => c.threadId).filter((t) => t);
    void withConnection(options.serverUrl, async (c) => {
      for (const t of threads) await c.query('KILL ?', [t]).catch(() => undefined);
    }, { database: null }).catch(() => undefined).finally(() => {
      for (const c of connections) c.destroy();
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-bench-'));
  let db: ThrowawayDatabase | null = null;
  const report: BenchReport = {
    format: 1, tool: 'reminderly-db bench', startedAt: started.toISOString(), finishedAt: '', seconds: 0,
    machine: describeMachine({ start: 0, end: 0, max: 0, mean: 0 }), server: serverReport, database: '',
    options: {
      rows: options.rows, sampleRows: options.sampleRows, claimRows: options.claimRows, workers: options.workers, batchSize: options.batchSize,
      scaleSets: options.scaleSets, callTimeoutSeconds: options.callTimeoutSeconds, maintenanceRows: options.maintenanceRows, offloadRows: options.offloadRows, sqlRunMegabytes: options.sqlRunMegabytes, restartRows: options.restartRows, loadRepeats: options.loadRepeats, contacts: options.contacts, only: options.only,
      enableLocalInfile: options.enableLocalInfile,
    },
    targets: [], correct: true, notes,
  };
  try {
    db = await createThrowawayDatabase('bench', options.serverUrl);
    const dbRef = db;
    undo.add(`drop the bench database ${db.name}`, async () => {
      await withConnection(options.serverUrl, async (c) => {
        await c.query('SET SESSION lock_wait_timeout = 60');
        await c.query(`DROP DATABASE IF EXISTS \`${dbRef.name}\``);
      }, { database: null });
    });
    report.database = db.name;
    log(`${server.flavour} ${server.version}: bench database ${db.name}; migrating`);
    await migrateDatabase(db.url);
    const conn = await connect(db.url);
    connections.add(conn);
    const methods = new Map((await queryRows<{ id: number; code: string }>(conn, 'SELECT id, code FROM contact_methods')).map((r) => [r.code, Number(r.id)] as [string, number]));
    const data = await generateCoreData(conn, { seed: 8, companies: 1, contactsPerCompany: options.contacts, label: 'Bench' });
    const ctx: BenchContext = {
      url: db.url, serverUrl: options.serverUrl, database: db.name, server, conn, companyId: data.companyIds[0],
      contactIds: data.contactIds.get(data.companyIds[0])!, adminUserId: data.adminUserId, methods, progress: options.progress, workDir,
      log, stopping: () => stopping, connections,
    };
    log(`seeded 1 company, ${options.contacts} contacts`);

    const section = async (name: Section, fn: () => Promise<void>) => {
      if (!options.only.includes(name) || stopping) return;
      try {
        await fn();
      } catch (err) {
        failedSections.push(name);
        notes.push(`section ${name} stopped: ${(err as Error).message.split('\n')[0]}`);
        log(`${name}: stopped: ${(err as Error).stack ?? err}`);
      }
    };
    await section('load', async () => {
      report.load = await runLoadSection(ctx, {
        rows: options.rows, sampleRows: options.sampleRows, repeats: options.loadRepeats, enableLocalInfile: options.enableLocalInfile,
        onUndo: (label, fn) => undo.add(label, fn),
      });
    });
    await section('claim', async () => {
      report.claim = await runClaimSection(ctx, { rows: options.claimRows, workers: options.workers, batchSize: options.batchSize });
    });
    await section('scale', async () => {
      report.scale = await runScaleSection(ctx, { sets: options.scaleSets, callTimeoutSeconds: options.callTimeoutSeconds });
    });
    await section('maintenance', async () => {
      report.maintenance = await runMaintenanceSection(ctx, { rows: options.maintenanceRows, offloadRows: options.offloadRows });
    });
    await section('sqlrun', async () => {
      report.sqlrun = await runSqlRunSection(ctx, { megabytes: options.sqlRunMegabytes, repeats: options.loadRepeats });
    });
    await section('restart', async () => {
      const restart = await runRestartSection(ctx, { messages: options.restartRows, workers: 8 });
      if (typeof restart === 'string') notes.push(restart);
      else report.restart = restart;
    });
    await conn.end().catch(() => conn.destroy());
  } finally {
    for (const c of connections) c.destroy();
    if (db) {
      const [{ n }] = await withConnection(options.serverUrl, (c) => queryRows<{ n: number }>(c,
        'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [db!.name]), { database: null }).catch(() => [{ n: 0 }]);
      log(`dropping the bench database ${db.name} (${n} tables)`);
    }
    await undo.runAll(log);
    fs.rmSync(workDir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (stopping) throw new OperationError('interrupted: the bench database was dropped and no results were written', ExitCode.Interrupted);
  const finished = new Date();
  report.finishedAt = finished.toISOString();
  report.seconds = Math.round((finished.getTime() - started.getTime()) / 100) / 10;
  report.machine = describeMachine(sampler.stop());
  report.targets = evaluateTargets(report);
  report.correct = (report.claim?.results ?? []).every((r) => r.duplicates === 0 && r.lost === 0)
    && (!report.restart || (report.restart.duplicates === 0 && report.restart.lost === 0));
  if (report.load && !report.load.results.some((r) => r.method === 'ceiling' && r.status === 'ok')) {
    notes.push(`load: the ceiling was ${report.load.ceiling.note.replace(/^not measured: /, 'not measured (')}), so the loader target is not judged`);
  }
  if (options.out) fs.writeFileSync(options.out, JSON.stringify(report, null, 2) + '\n');
  if (options.svg) fs.writeFileSync(options.svg, renderChart(report));
  return { report, failedSections };
}
