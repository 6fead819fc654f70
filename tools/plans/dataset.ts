// The realistic data set the pipeline's plans are checked on (plans/scenarios.json names it as a
// setup step): a campaign with 100,000 messages loaded by the pipeline's bulk loader over the
// contacts of the seeded generator, some packets marked ready, a few hundred batches claimed and
// completed (status updates, current status, batches), and the history and log tables filled.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { UserError } from '../errors';
import { loadMessages } from '../pipeline/loader';
import { Connection, queryRows, quoteIdentifier } from '../sql/connection';
import type { SetupContext } from './scenario';

export interface PipelineDatasetOptions {
  /** Messages loaded into the campaign (default 100,000). */
  messages?: number;
  /** Packets they are spread over; packets 1..readyPackets are marked ready (default 10 and 4). */
  packets?: number;
  readyPackets?: number;
  /** Share of messages with a send_after (the scheduled lane), spread over January 2026. */
  scheduledShare?: number;
  /** Batches claimed and completed before the plans are captured (default 200, of 100 messages). */
  batches?: number;
  /** Rows generated into every *_history and log_* table (default 100,000). */
  historyRows?: number;
}

/** Statuses a completed message gets, in proportion. */
const OUTCOMES = ['sent', 'sent', 'sent', 'sent', 'sent', 'sent', 'sent', 'failed', 'bounced', 'sent'];

/**
 * Fills the database. Expects the generator's companies, users and contacts (the step before it);
 * leaves @plan_user (a user allowed to see the campaign's company) and @plan_campaign set, and the
 * views plans_queue and plans_status (the campaign's ready queue and current status), for the
 * scenario's argument expressions.
 */
export async function pipelineDataset(conn: Connection, options: PipelineDatasetOptions, context: SetupContext): Promise<void> {
  const messages = options.messages ?? 100_000;
  const packets = options.packets ?? 10;
  const readyPackets = options.readyPackets ?? 4;
  const scheduledShare = options.scheduledShare ?? 0.2;
  const batches = options.batches ?? 200;
  const historyRows = options.historyRows ?? 100_000;
  const log = context.log ?? (() => undefined);

  const [company] = await queryRows<{ company: number; user: number }>(conn,
    `SELECT u.company_id AS company, MIN(u.id) AS user FROM users u JOIN role_companies rc ON rc.role_id = u.role_id AND rc.company_id = u.company_id
      GROUP BY u.company_id ORDER BY COUNT(*) DESC, u.company_id LIMIT 1`);
  if (!company) throw new UserError('plans dataset: no company with a user allowed to see it: run the data generator first (setup step before this one)');
  const contacts = await queryRows<{ id: number; methods: string }>(conn,
    `SELECT c.id, GROUP_CONCAT(m.code ORDER BY m.id) AS methods FROM contacts c
       JOIN contact_channels ch ON ch.contact_id = c.id JOIN contact_methods m ON m.id = ch.method_id
      WHERE c.company_id = ? GROUP BY c.id ORDER BY c.id`, [company.company]);
  if (contacts.length === 0) throw new UserError(`plans dataset: company ${company.company} has no contacts with a channel`);

  const [campaign] = await conn.query(
    "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, 'plan check campaign', id, 'active' FROM run_types WHERE code = 'immediate'",
    [company.company]) as unknown as [{ insertId: number }];
  const campaignId = Number(campaign.insertId);
  await conn.query('CALL campaign_set_create(?, @plan_created)', [campaignId]);
  await conn.query('SET @plan_campaign = ?, @plan_user = ?', [campaignId, company.user]);
  const table = async (kind: string) => (await queryRows<{ t: string }>(conn, 'SELECT campaign_table_name(?, ?) AS t', [campaignId, kind]))[0].t;

  // Messages through the bulk loader, the way a campaign is filled in production.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-plans-data-'));
  try {
    const file = path.join(dir, 'messages.csv');
    const lines = ['contact_id,method,packet,send_after,subject,body'];
    const january = Date.UTC(2026, 0, 1);
    for (let i = 0; i < messages; i++) {
      const contact = contacts[(i * 7919) % contacts.length];
      const methods = contact.methods.split(',');
      const method = methods[i % methods.length];
      const packet = 1 + (i % packets);
      const scheduled = (i % 100) < scheduledShare * 100;
      const sendAfter = scheduled ? new Date(january + ((i * 37) % (31 * 86_400)) * 1000).toISOString().replace('T', ' ').replace('Z', '') : '';
      lines.push(`${contact.id},${method},${packet},${sendAfter},Reminder ${i % 50},Your appointment ${i}`);
    }
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const loaded = await loadMessages({ url: context.url, campaignId, file, progress: 'none', log });
    log(`plans dataset: ${loaded.loaded} messages loaded into campaign ${campaignId} (${loaded.path})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const started = Date.now();
  const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  for (let p = 1; p <= readyPackets; p++) await conn.query('CALL mark_packet_ready(?, ?, ?)', [company.user, campaignId, p]);
  await conn.query("CALL mark_ready(?, ?, '2026-01-01', '2026-01-15')", [company.user, campaignId]);

  // Work the pipeline: claims and completions give batches, status updates and current statuses.
  for (let b = 0; b < batches; b++) {
    const [sets] = await conn.query("CALL claim_batch(?, 'immediate', 'plans-seed', 100, 300)", [campaignId]) as unknown as [unknown[][]];
    const claimed = (sets[1] ?? []) as { message_id: number }[];
    if (!claimed.length) break;
    const outcomes = claimed.map((m, i) => ({ message_id: Number(m.message_id), status: OUTCOMES[(b + i) % OUTCOMES.length] }));
    const batchId = Number((sets[0] as { batch_id: number }[])[0].batch_id);
    await conn.query('CALL complete_batch(?, ?)', [batchId, JSON.stringify(outcomes)]);
  }

  log(`plans dataset: packets marked ready and ${batches} batches worked in ${took()}`);

  // Views for the scenario's argument expressions (they cannot name a campaign table by id).
  await conn.query(`CREATE OR REPLACE VIEW plans_queue AS SELECT * FROM ${quoteIdentifier(await table('ready_queue'))}`);
  await conn.query(`CREATE OR REPLACE VIEW plans_status AS SELECT * FROM ${quoteIdentifier(await table('message_contact_status'))}`);

  await fillHistoryAndLogs(conn, historyRows, (line) => log(`${line} (${took()})`));
}

/**
 * Every *_history and log_* table gets `rows` generated rows, column by column from the
 * catalogue (ids past any live id, dates spread over the past year, enums' first value), so the
 * fill keeps working as those tables change.
 */
export async function fillHistoryAndLogs(conn: Connection, rows: number, log: (line: string) => void = () => undefined): Promise<void> {
  if (rows <= 0) return;
  const tables = await queryRows<{ name: string }>(conn,
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
        AND (TABLE_NAME LIKE '%\\_history' OR TABLE_NAME LIKE 'log\\_%') ORDER BY TABLE_NAME`);
  if (!tables.length) return;
  await conn.query('DROP TABLE IF EXISTS plans_numbers');
  await conn.query('CREATE TABLE plans_numbers (n INT UNSIGNED NOT NULL PRIMARY KEY) ENGINE = InnoDB');
  const digits = 'SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9';
  await conn.query(`INSERT INTO plans_numbers (n) SELECT n FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d AS n
    FROM (${digits}) a CROSS JOIN (${digits}) b CROSS JOIN (${digits}) c CROSS JOIN (${digits}) e CROSS JOIN (${digits}) f CROSS JOIN (${digits}) g) AS x WHERE n <= ?`, [rows]);
  try {
    for (const { name } of tables) {
      const columns = await queryRows<{ name: string; type: string; dataType: string; nullable: string; extra: string; length: number | null }>(conn,
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, DATA_TYPE AS dataType, IS_NULLABLE AS nullable, EXTRA AS extra, CHARACTER_MAXIMUM_LENGTH AS length
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [name]);
      const cols = columns.filter((c) => !/auto_increment|GENERATED/i.test(c.extra));
      // The first primary key column counts up, so composite keys stay unique too.
      const [pk] = await queryRows<{ name: string }>(conn,
        `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1`, [name]);
      // A nullable JSON column is left NULL (on MariaDB JSON is LONGTEXT under a json_valid CHECK).
      const exprs = cols.map((c) => (c.name === pk?.name ? '10000000 + n'
        : c.nullable === 'YES' && /^(json|longtext)$/i.test(c.dataType) ? 'NULL' : valueFor(c.name, c.dataType.toLowerCase(), c.type, c.length)));
      await conn.query(`INSERT INTO ${quoteIdentifier(name)} (${cols.map((c) => quoteIdentifier(c.name)).join(', ')})
        SELECT ${exprs.join(', ')} FROM plans_numbers`);
      log(`plans dataset: ${rows} rows in ${name}`);
    }
  } finally {
    await conn.query('DROP TABLE IF EXISTS plans_numbers');
  }
}

function valueFor(column: string, dataType: string, columnType: string, length: number | null): string {
  const name = column.toLowerCase();
  if (name === 'id') return '10000000 + n';
  if (name === 'campaign_id') return '1 + n % 50';
  if (name.endsWith('_id')) return `1 + n % ${name === 'method_id' ? 4 : name === 'status_id' ? 8 : name === 'run_type_id' ? 3 : 10000}`;
  if (/int|decimal|float|double/.test(dataType)) return 'n % 100';
  if (/datetime|timestamp/.test(dataType)) return "TIMESTAMP '2026-01-01 00:00:00' - INTERVAL n * 300 SECOND";
  if (dataType === 'date') return "DATE '2026-01-01' - INTERVAL n % 365 DAY";
  if (dataType === 'enum') return `'${/^enum\('((?:[^']|'')*)'/i.exec(columnType)![1]}'`;
  if (dataType === 'json') return "JSON_OBJECT('n', n)";
  if (/char|text/.test(dataType)) return `LEFT(CONCAT('plan data ', n), ${Math.max(1, Math.min(length ?? 100, 100))})`;
  return 'NULL';
}
