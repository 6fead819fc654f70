// The whole pipeline on one server, start to finish, in a fresh `reminderly_demo` database:
// migrate, generate data, create campaign sets, bulk-load, mark ready, run workers through the
// generated bindings (with failures and retries), late status updates, history move, log rotation
// and verified offload, and a summary with each step's throughput.
import fs from 'fs';
import os from 'os';
import path from 'path';
import {
  addStatusUpdate, campaignSummary, CampaignSummaryOverviewRow, CampaignSummaryStatusesRow, claimBatch, completeBatch,
  markPacketReady, RoutineError,
} from '../../bindings';
import { createCampaignSet } from '../campaigns/sets';
import { generateCoreData, insertCampaign, seededRandom } from '../campaigns/generator';
import { moveSetHistory } from '../maintenance/history';
import { rotateLogTables } from '../maintenance/log-tables';
import { offloadRotatedLogs } from '../maintenance/offload';
import { evaluateAlarms } from '../health/alarms';
import { DEFAULT_WINDOW_MINUTES } from '../health/command';
import { readHealthMetrics } from '../health/metrics';
import { DEFAULT_THRESHOLDS } from '../health/thresholds';
import { migrateUp, assertMigrated } from '../migrate/migrator';
import { loadMessages } from '../pipeline/loader';
import { withDeadlockRetry } from '../pipeline/retry';
import { connect, Connection, queryRows, withConnection, withDatabase } from '../sql/connection';
import { detectServer } from '../sql/flavour';

export const DEMO_DATABASE = 'reminderly_demo';

export interface DemoOptions {
  serverUrl: string;
  contacts?: number;
  messages?: number;
  workers?: number;
  outDir?: string;
  failureRate?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface StepFigure {
  step: string;
  items: number;
  unit: string;
  seconds: number;
}

export interface DemoSummary {
  server: string;
  database: string;
  steps: StepFigure[];
  campaigns: { campaignId: number; name: string; byStatus: CampaignSummaryStatusesRow[]; queue: CampaignSummaryOverviewRow | null }[];
  offloaded: string[];
  /** Alarms `reminderly-db health` raises on the demo database at the end, with default thresholds. */
  alarms: string[];
}

const CAMPAIGNS = ['Spring check-up reminders', 'Service satisfaction survey', 'Review request'];
const RUN_TYPES = ['immediate', 'scheduled', 'retry'] as const;
/** Share of sent messages that get a delivery callback during the demo. */
const CALLBACK_SHARE = 0.1;

async function timed<T>(steps: StepFigure[], step: string, unit: string, fn: () => Promise<{ result: T; items: number }>): Promise<T> {
  const started = Date.now();
  const { result, items } = await fn();
  steps.push({ step, items, unit, seconds: (Date.now() - started) / 1000 });
  return result;
}

async function logEvent(conn: Connection, message: string, campaignId: number | null = null, detail: unknown = null): Promise<void> {
  await conn.query("INSERT INTO log_events (level, source, campaign_id, message, detail) VALUES ('info', 'demo', ?, ?, ?)",
    [campaignId, message, detail === null ? null : JSON.stringify(detail)]);
}

/** One CSV of messages for a campaign: each contact's channels, some scheduled, over 4 packets. */
async function writeMessagesFile(conn: Connection, companyId: number, count: number, random: () => number, file: string): Promise<void> {
  const channels = await queryRows<{ contact_id: number; code: string }>(conn,
    `SELECT ch.contact_id, m.code FROM contact_channels ch JOIN contacts c ON c.id = ch.contact_id
       JOIN contact_methods m ON m.id = ch.method_id WHERE c.company_id = ? ORDER BY ch.contact_id, ch.method_id`, [companyId]);
  const lines = ['contact_id,method,packet,send_after,subject,body'];
  const past = new Date(Date.now() - 3_600_000).toISOString();
  for (let i = 0; i < count; i++) {
    const ch = channels[Math.floor(random() * channels.length)];
    const scheduled = random() < 0.25 ? past : '';
    lines.push(`${ch.contact_id},${ch.code},${1 + (i % 4)},${scheduled},"Your reminder #${i + 1}","Hello, this is a reminder ""${i + 1}"", see you soon."`);
  }
  await fs.promises.writeFile(file, lines.join('\n') + '\n');
}

type Sent = { messageId: number; method: string };

/** A worker: claims from every campaign and lane in turn, "sends", completes, until nothing is left. */
async function runDemoWorker(url: string, name: string, campaignIds: number[], failureRate: number, random: () => number,
  remaining: () => Promise<number>, sentIds: Map<number, Sent[]>): Promise<number> {
  const conn = await connect(url);
  let handled = 0;
  try {
    for (;;) {
      let claimedAny = false;
      for (const campaignId of campaignIds) {
        for (const runType of RUN_TYPES) {
          const claim = await withDeadlockRetry(() => claimBatch(conn, { campaignId, runType, worker: name, maxRows: 200, leaseSeconds: 60 }));
          const [batch] = claim.batch;
          if (!batch) continue;
          claimedAny = true;
          const outcomes = claim.messages.map((m) => ({
            message_id: Number(m.messageId),
            method: m.method,
            status: m.optedOutAt ? 'opted_out' : !m.address || random() < failureRate ? 'failed' : 'sent',
            provider_ref: `demo-${name}-${m.messageId}`,
          }));
          const payload = outcomes.map(({ message_id, status, provider_ref }) => ({ message_id, status, provider_ref }));
          await withDeadlockRetry(() => completeBatch(conn, { batchId: batch.batchId, outcomes: JSON.stringify(payload) }));
          const sent = sentIds.get(campaignId) ?? [];
          for (const o of outcomes) if (o.status === 'sent') sent.push({ messageId: o.message_id, method: o.method });
          sentIds.set(campaignId, sent);
          handled += outcomes.length;
        }
      }
      if (!claimedAny) {
        if ((await remaining()) === 0) return handled;
        // Failed messages wait out their retry backoff before the retry lane offers them.
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await conn.end();
  }
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const log = options.log ?? (() => undefined);
  const contacts = options.contacts ?? 10_000;
  const messageCount = options.messages ?? 100_000;
  const workers = options.workers ?? 4;
  const outDir = path.resolve(options.outDir ?? 'demo-output');
  const random = seededRandom(options.seed ?? 2026);
  const url = withDatabase(options.serverUrl, DEMO_DATABASE);
  const steps: StepFigure[] = [];

  // A fresh database every run, so running the demo again works and shows the same thing.
  await withConnection(options.serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS \`${DEMO_DATABASE}\``), { database: null });
  const server = await withConnection(options.serverUrl, detectServer, { database: null });
  log(`server: ${server.flavour} ${server.version}; database ${DEMO_DATABASE}`);

  await timed(steps, 'migrate', 'files', async () => {
    const report = await migrateUp({ url, quiet: true });
    assertMigrated(report);
    return { result: null, items: report.results.length };
  });

  const conn = await connect(url);
  try {
    // The demo's own setting: retries after 1 s instead of the production backoff, so failed
    // messages are retried within the demo's run.
    await conn.query("UPDATE run_types SET retry_backoff_seconds = 1, max_attempts = 3 WHERE code = 'retry'");
    const data = await timed(steps, 'generate companies, users, contacts', 'contacts', async () => {
      const generated = await generateCoreData(conn, { seed: options.seed ?? 2026, companies: 2, contactsPerCompany: Math.ceil(contacts / 2), label: 'Demo company' });
      return { result: generated, items: contacts };
    });
    await logEvent(conn, `generated ${contacts} contacts`);

    const campaignIds = await timed(steps, 'create campaign sets', 'sets', async () => {
      const ids: number[] = [];
      for (const [i, name] of CAMPAIGNS.entries()) {
        const id = await insertCampaign(conn, data.companyIds[i % data.companyIds.length], name);
        await createCampaignSet(conn, id);
        await logEvent(conn, 'campaign set created', id);
        ids.push(id);
      }
      return { result: ids, items: ids.length };
    });

    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-demo-'));
    try {
      const perCampaign = Math.ceil(messageCount / campaignIds.length);
      await timed(steps, 'bulk load messages', 'messages', async () => {
        let loaded = 0;
        for (const [i, campaignId] of campaignIds.entries()) {
          const file = path.join(work, `campaign-${campaignId}.csv`);
          await writeMessagesFile(conn, data.companyIds[i % data.companyIds.length], perCampaign, random, file);
          const result = await loadMessages({ url, campaignId, file, log });
          await logEvent(conn, `loaded ${result.loaded} messages by ${result.path}`, campaignId);
          loaded += result.loaded;
        }
        return { result: null, items: loaded };
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }

    await timed(steps, 'mark ready (4 packets per campaign)', 'messages', async () => {
      let marked = 0;
      for (const [i, campaignId] of campaignIds.entries()) {
        const userId = data.userIds.get(data.companyIds[i % data.companyIds.length])!;
        for (let packet = 1; packet <= 4; packet++) {
          const result = await markPacketReady(conn, { userId, campaignId, packet });
          marked += result.marked[0]?.marked ?? 0;
        }
      }
      return { result: null, items: marked };
    });

    const remaining = async () => {
      let left = 0;
      for (const campaignId of campaignIds) {
        const summary = await campaignSummary(conn, { userId: data.adminUserId, campaignId });
        const [queue] = summary.overview;
        left += Number(queue?.queued ?? 0) + Number(queue?.scheduled ?? 0) + Number(queue?.inFlight ?? 0) + Number(queue?.leaseExpired ?? 0);
      }
      return left;
    };
    const sentIds = new Map<number, Sent[]>();
    await timed(steps, `${workers} workers claim, send, complete (with retries)`, 'messages', async () => {
      const handled = await Promise.all(Array.from({ length: workers }, (_, w) =>
        runDemoWorker(url, `demo-worker-${w + 1}`, campaignIds, options.failureRate ?? 0.05, seededRandom(w + 1), remaining, sentIds)));
      return { result: null, items: handled.reduce((a, b) => a + b, 0) };
    });
    await logEvent(conn, 'workers finished');

    await timed(steps, 'late status updates (delivered, opened, responded)', 'updates', async () => {
      // Callbacks arrive for a share of the sent messages, from several connections at once as
      // they would from a provider's webhooks.
      const callbacks: (Sent & { campaignId: number; status: string })[] = [];
      for (const campaignId of campaignIds) {
        for (const sent of sentIds.get(campaignId) ?? []) {
          const roll = random();
          if (roll >= CALLBACK_SHARE) continue;
          const r = roll / CALLBACK_SHARE;
          callbacks.push({ ...sent, campaignId, status: r < 0.05 ? 'responded' : r < 0.2 ? 'opened' : r < 0.97 ? 'delivered' : 'bounced' });
        }
      }
      let next = 0;
      const counts = await Promise.all(Array.from({ length: 8 }, async () => {
        const c = await connect(url);
        let done = 0;
        try {
          while (next < callbacks.length) {
            const cb = callbacks[next++];
            try {
              await withDeadlockRetry(() => addStatusUpdate(c, { campaignId: cb.campaignId, messageId: cb.messageId, method: cb.method, status: cb.status, providerRef: `callback-${cb.messageId}`, detail: null }));
              done++;
            } catch (err) {
              if (!(err instanceof RoutineError)) throw err;
              log(`status update refused: ${err.message}`);
            }
          }
        } finally {
          await c.end();
        }
        return done;
      }));
      return { result: null, items: counts.reduce((a, b) => a + b, 0) };
    });

    await timed(steps, 'history move (finished messages)', 'messages', async () => {
      // The demo's messages are minutes old: move every finished one (production keeps 30 days).
      let moved = 0;
      for (const campaignId of campaignIds) {
        moved += (await moveSetHistory(conn, campaignId, { olderThanDays: 0, chunk: 5000 })).messages;
      }
      return { result: null, items: moved };
    });

    const offloaded = await timed(steps, 'rotate and offload logs (verified)', 'log rows', async () => {
      const rotated = await rotateLogTables(conn);
      const results = await offloadRotatedLogs({ url, outDir, olderThanMs: 0 });
      const failed = results.filter((r) => r.outcome === 'failed');
      if (failed.length) throw new Error(`offload failed: ${failed[0].error}`);
      return { result: results.map((r) => r.file!), items: rotated.reduce((n, r) => n + r.rows, 0) };
    });

    const campaigns = [];
    for (const [i, campaignId] of campaignIds.entries()) {
      const summary = await campaignSummary(conn, { userId: data.adminUserId, campaignId });
      campaigns.push({ campaignId, name: CAMPAIGNS[i], byStatus: summary.statuses, queue: summary.overview[0] ?? null });
    }
    // What an operator's `reminderly-db health` would say now: the workers drained every queue.
    const alarms = evaluateAlarms(await readHealthMetrics(conn, { windowMinutes: DEFAULT_WINDOW_MINUTES, replicaUrls: [] }), DEFAULT_THRESHOLDS)
      .map((a) => a.message);
    return { server: `${server.flavour} ${server.version}`, database: DEMO_DATABASE, steps, campaigns, offloaded, alarms };
  } finally {
    await conn.end();
  }
}

export function formatSummary(summary: DemoSummary): string {
  const lines: string[] = [];
  lines.push(`\nReminderly demo on ${summary.server}, database ${summary.database}\n`);
  lines.push('step'.padEnd(56) + 'items'.padStart(10) + 'seconds'.padStart(10) + 'per second'.padStart(12));
  for (const s of summary.steps) {
    const rate = s.seconds > 0 ? Math.round(s.items / s.seconds).toLocaleString('en-US') : '-';
    lines.push(s.step.padEnd(56) + `${s.items.toLocaleString('en-US')}`.padStart(10) + s.seconds.toFixed(2).padStart(10) + `${rate} ${s.unit}`.padStart(12 + s.unit.length + 1));
  }
  for (const c of summary.campaigns) {
    lines.push(`\ncampaign ${c.campaignId} "${c.name}": current status by method`);
    const methods = [...new Set(c.byStatus.map((r) => String(r.method)))].sort();
    const statuses = [...new Set(c.byStatus.map((r) => String(r.status)))].sort();
    lines.push('  ' + 'status'.padEnd(20) + methods.map((m) => m.padStart(10)).join(''));
    for (const status of statuses) {
      lines.push('  ' + status.padEnd(20) + methods.map((m) => String(c.byStatus.find((r) => r.status === status && r.method === m)?.messages ?? 0).padStart(10)).join(''));
    }
  }
  if (summary.offloaded.length) lines.push(`\noffloaded and verified: ${summary.offloaded.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
  lines.push(`\nhealth (default thresholds): ${summary.alarms.length ? `${summary.alarms.length} alarm(s)\n  ${summary.alarms.join('\n  ')}` : 'no alarm'}`
    + ` — every metric: reminderly-db health --url <server>/${summary.database} --json`);
  return lines.join('\n');
}
