// The restart drill (claims after a crash that lost a table's statistics), on a private server
// the drill may kill: a campaign of ~30,000 messages whose statistics InnoDB never persisted,
// half of it claimed and completed by several workers, then kill -9, restart, the other half
// marked ready and claimed by the same number of workers. Before the fix the restarted server
// believed the messages table empty and claim_batch's plain JOIN scanned it on every claim
// (139 messages/s instead of 8,432; leases expired, completions
// were refused, batches went out twice). Used by test/pipeline/restart.spec.ts (exactly once, no
// lease expired, no completion refused) and by the bench's opt-in "restart" section (the claim rate
// after the restart against the rate before it, in the same run).
//
// "Never persisted" is made deterministic: InnoDB recalculates a table's statistics in the
// background some seconds after 10 % of it changed and persists them then, so a server killed soon
// after a big load restarts with the statistics CREATE TABLE wrote (no rows). The drill switches
// that recalculation off for the campaign's tables (STATS_AUTO_RECALC = 0) before filling them, and
// fills the messages table with plain INSERTs (the loader would ANALYZE it), so the statistics on
// disk say "empty" whenever the kill comes. It checks both ends: mysql.innodb_table_stats says 0
// rows at the kill, and after the restart EXPLAIN estimates the 30,000-row table at one row or none.
import { generateCoreData, insertCampaign } from '../campaigns/generator';
import { campaignTableName, createCampaignSet } from '../campaigns/sets';
import { PrivateServer } from '../harness/private-server';
import { migrateDatabase } from '../harness/migrated';
import { prepareExplainSession } from '../plans/explain';
import { estimatedRows } from '../plans/statistics';
import { connect, Connection, queryRows, quoteIdentifier, withConnection, withDatabase } from '../sql/connection';
import { detectServer } from '../sql/flavour';
import { runWorker, simulatedSender, WorkerStats } from '../pipeline/worker';

export const RESTART_DRILL_DATABASE = 'reminderly_restart';

export interface RestartDrillOptions {
  /** A private server: the drill creates its database there, kills the server and restarts it. */
  server: PrivateServer;
  /** Messages in the campaign, half claimed before the crash and half after (default 30,000). */
  messages?: number;
  /** Workers in each phase (default 8, as in the issue). */
  workers?: number;
  /** Worker settings; unset: the worker loop's defaults (batches of 100, leases of 60 s). */
  batchSize?: number;
  leaseSeconds?: number;
  log?: (line: string) => void;
}

export interface RestartPhase {
  label: string;
  workers: number;
  /** Messages completed in the phase (by the workers' own count). */
  messages: number;
  batches: number;
  seconds: number;
  /** messages / seconds. */
  perSecond: number;
  /** Completions refused because the lease expired and the messages were claimed again (must be 0). */
  refusedBatches: number;
  refusedMessages: number;
  /** Deadlocks / lock wait timeouts retried inside the workers. */
  retries: number;
  /**
   * Row reads during the phase per completed message: the server's Handler_read_* counters summed
   * (global: the drill is alone on its server; MariaDB 10.11 has no Innodb_rows_read). A count, not
   * a time: one lookup per message and table keeps it a small constant, a claim that scans the
   * messages table reads all of it for every batch.
   */
  rowsReadPerMessage: number;
}

export interface RestartDrillResult {
  flavour: string;
  version: string;
  campaignId: number;
  messages: number;
  /** n_rows of the messages table in mysql.innodb_table_stats when the server was killed. */
  persistedRowsAtKill: number;
  /** The optimiser's estimate of the messages table right after the restart (EXPLAIN). */
  estimatedRowsAfterRestart: number;
  before: RestartPhase;
  after: RestartPhase;
  /** From the workers: messages completed by more than one batch, and never completed. */
  duplicates: number;
  lost: number;
  /** From the database. */
  statusUpdates: number;
  messagesWithStatusUpdate: number;
  queueLeft: number;
  /** Batches not completed, and batches completed after their lease had ended. */
  openBatches: number;
  batchesCompletedAfterLease: number;
}

/** Runs `workers` worker loops on their own connections until the lane is empty. */
async function phase(url: string, label: string, campaignId: number, workers: number, options: RestartDrillOptions,
  seen: Map<number, number>): Promise<RestartPhase> {
  const conns: Connection[] = await Promise.all(Array.from({ length: workers }, () => connect(url)));
  const rowsRead = async () => (await queryRows<{ Value: string }>(conns[0], "SHOW GLOBAL STATUS LIKE 'Handler\\_read\\_%'"))
    .reduce((n, r) => n + Number(r.Value), 0);
  try {
    const readBefore = await rowsRead();
    const started = process.hrtime.bigint();
    const stats: WorkerStats[] = await Promise.all(conns.map((c, i) => runWorker(c, {
      campaignId, runType: 'immediate', worker: `${label}-${i + 1}`, send: simulatedSender(0),
      ...(options.batchSize ? { batchSize: options.batchSize } : {}), ...(options.leaseSeconds ? { leaseSeconds: options.leaseSeconds } : {}),
      onBatch: (_batch, ids) => { for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1); },
      log: options.log,
    })));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const read = await rowsRead() - readBefore;
    const sum = (f: (s: WorkerStats) => number) => stats.reduce((n, s) => n + f(s), 0);
    const messages = sum((s) => s.messages);
    return {
      label, workers, messages, batches: sum((s) => s.batches), seconds, perSecond: Math.round(messages / Math.max(seconds, 0.001)),
      refusedBatches: sum((s) => s.refusedBatches), refusedMessages: sum((s) => s.refusedMessages), retries: sum((s) => s.retries),
      rowsReadPerMessage: Math.round((read / Math.max(messages, 1)) * 10) / 10,
    };
  } finally {
    for (const c of conns) await c.end().catch(() => c.destroy());
  }
}

export async function runRestartDrill(options: RestartDrillOptions): Promise<RestartDrillResult> {
  const total = options.messages ?? 30_000;
  const workers = options.workers ?? 8;
  const log = options.log ?? (() => undefined);
  const server = options.server;
  const url = () => withDatabase(server.url, RESTART_DRILL_DATABASE);
  await withConnection(server.url, (c) => c.query(`CREATE DATABASE ${RESTART_DRILL_DATABASE}`), { database: null });
  await migrateDatabase(url());

  const half = Math.floor(total / 2);
  let conn = await connect(url());
  let campaignId: number;
  let messagesTable: string;
  let persistedRowsAtKill: number;
  const info = await detectServer(conn);
  const seen = new Map<number, number>();
  let before: RestartPhase;
  try {
    const data = await generateCoreData(conn, { seed: 15, companies: 1, contactsPerCompany: 5000, label: 'Restart' });
    const companyId = data.companyIds[0];
    const contacts = data.contactIds.get(companyId)!;
    campaignId = await insertCampaign(conn, companyId, 'restart drill');
    await createCampaignSet(conn, campaignId);
    messagesTable = await campaignTableName(conn, campaignId, 'messages');
    const setTables = await queryRows<{ name: string }>(conn,
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ? AND TABLE_TYPE = 'BASE TABLE'",
      [`campaign\\_${campaignId}\\_%`]);
    for (const { name } of setTables) await conn.query(`ALTER TABLE ${quoteIdentifier(name)} STATS_AUTO_RECALC = 0`);
    const [email] = await queryRows<{ id: number }>(conn, "SELECT id FROM contact_methods WHERE code = 'email'");
    // Two packets: the first claimed before the crash, the second marked ready and claimed after it.
    for (let i = 0; i < total; i += 5000) {
      const rows = Array.from({ length: Math.min(5000, total - i) }, (_, k) => {
        const n = i + k;
        return [contacts[n % contacts.length], email.id, n < half ? 1 : 2, `Reminder ${n + 1}`, `Your appointment ${n + 1} is tomorrow. Reply C to confirm.`];
      });
      await conn.query(`INSERT INTO ${quoteIdentifier(messagesTable)} (contact_id, method_id, packet, subject, body) VALUES ?`, [rows]);
    }
    await conn.query('CALL mark_packet_ready(?, ?, 1)', [data.adminUserId, campaignId]);
    log(`restart drill: ${total} messages in campaign ${campaignId} (${setTables.length} tables, STATS_AUTO_RECALC = 0), packet 1 (${half}) ready`);

    before = await phase(url(), 'before', campaignId, workers, options, seen);
    log(`restart drill: before the restart ${workers} workers completed ${before.messages} messages at ${before.perSecond}/s, ${before.rowsReadPerMessage} rows read per message`);
    [{ n: persistedRowsAtKill }] = await queryRows<{ n: number }>(conn,
      'SELECT n_rows AS n FROM mysql.innodb_table_stats WHERE database_name = DATABASE() AND table_name = ?', [messagesTable]);
    persistedRowsAtKill = Number(persistedRowsAtKill);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }

  log(`restart drill: kill -9 of the server (pid ${server.pid}); ${messagesTable} has ${persistedRowsAtKill} rows in mysql.innodb_table_stats`);
  await server.kill();
  await server.restart();
  conn = await connect(url());
  try {
    await prepareExplainSession(conn, info);
    const estimatedRowsAfterRestart = await estimatedRows(conn, info, messagesTable);
    log(`restart drill: restarted (pid ${server.pid}); the optimiser estimates ${messagesTable} at ${estimatedRowsAfterRestart} rows`);
    const [{ admin }] = await queryRows<{ admin: number }>(conn,
      "SELECT MIN(u.id) AS admin FROM users u JOIN roles r ON r.id = u.role_id WHERE r.is_global = 1");
    await conn.query('CALL mark_packet_ready(?, ?, 2)', [admin, campaignId]);
    const after = await phase(url(), 'after', campaignId, workers, options, seen);
    log(`restart drill: after the restart ${workers} workers completed ${after.messages} messages at ${after.perSecond}/s, ${after.rowsReadPerMessage} rows read per message`);

    const [updates] = await queryRows<{ n: number; d: number }>(conn,
      `SELECT COUNT(*) AS n, COUNT(DISTINCT message_id) AS d FROM ${quoteIdentifier(await campaignTableName(conn, campaignId, 'status_updates'))}`);
    const [queue] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${quoteIdentifier(await campaignTableName(conn, campaignId, 'ready_queue'))}`);
    const [batches] = await queryRows<{ open: number; late: number }>(conn,
      'SELECT COALESCE(SUM(completed_at IS NULL), 0) AS open, COALESCE(SUM(completed_at > lease_until), 0) AS late FROM batches WHERE campaign_id = ?', [campaignId]);
    return {
      flavour: info.flavour, version: info.version, campaignId, messages: total, persistedRowsAtKill, estimatedRowsAfterRestart, before, after,
      duplicates: [...seen.values()].filter((n) => n > 1).length, lost: total - seen.size,
      statusUpdates: Number(updates.n), messagesWithStatusUpdate: Number(updates.d), queueLeft: Number(queue.n),
      openBatches: Number(batches.open), batchesCompletedAfterLease: Number(batches.late),
    };
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}
