// Campaign data for the maintenance specs: messages with current statuses of a chosen age, status
// updates and interactions, and counts that prove rows were moved, never lost or doubled.
import { Connection, queryRows } from '../../tools/sql/connection';
import { tableName } from '../pipeline/helpers';

export { createCampaign, seedCompany, tableName } from '../pipeline/helpers';
export type { Company } from '../pipeline/helpers';

export const HOT_KINDS = ['messages', 'message_contact_status', 'status_updates', 'interactions'] as const;

export interface SeedSpec {
  count: number;
  contacts: number[];
  /** contact_statuses.code of the message's current status; null: no status row at all. */
  status: string | null;
  /** Age of the current status (and of the status updates). */
  daysAgo: number;
  /** Status updates per message (default 2). */
  updates?: number;
  /** An interaction for every n-th message (default 3; 0: none). */
  interactionEvery?: number;
  method?: number;
}

/** Inserts messages with their current status, status updates and interactions; returns the new ids. */
export async function seedMessages(conn: Connection, campaignId: number, spec: SeedSpec): Promise<number[]> {
  const messages = await tableName(conn, campaignId, 'messages');
  const method = spec.method ?? 1;
  const [{ top }] = await queryRows<{ top: number | null }>(conn, `SELECT MAX(id) AS top FROM \`${messages}\``);
  const from = Number(top ?? 0);
  for (let start = 0; start < spec.count; start += 5000) {
    const n = Math.min(5000, spec.count - start);
    const rows = Array.from({ length: n }, (_, i) => [spec.contacts[(start + i) % spec.contacts.length], method, 1, 'Subject ✓', `body 'q' \\ ${start + i}`]);
    await conn.query(`INSERT INTO \`${messages}\` (contact_id, method_id, packet, subject, body) VALUES ?`, [rows]);
  }
  const ids = (await queryRows<{ id: number }>(conn, `SELECT id FROM \`${messages}\` WHERE id > ? ORDER BY id`, [from])).map((r) => Number(r.id));
  if (spec.status !== null) {
    const at = `NOW(3) - INTERVAL ${Number(spec.daysAgo)} DAY`;
    await conn.query(`INSERT INTO \`${await tableName(conn, campaignId, 'message_contact_status')}\` (message_id, method_id, status_id, updated_at)
      SELECT m.id, m.method_id, s.id, ${at} FROM \`${messages}\` m JOIN contact_statuses s ON s.code = ? WHERE m.id > ?`, [spec.status, from]);
    for (let u = 0; u < (spec.updates ?? 2); u++) {
      await conn.query(`INSERT INTO \`${await tableName(conn, campaignId, 'status_updates')}\` (message_id, method_id, status_id, provider_ref, detail, created_at)
        SELECT m.id, m.method_id, s.id, CONCAT('ref-', m.id, '-', ?), NULL, ${at} FROM \`${messages}\` m JOIN contact_statuses s ON s.code = ? WHERE m.id > ?`,
      [u, spec.status, from]);
    }
    const every = spec.interactionEvery ?? 3;
    if (every > 0) {
      await conn.query(`INSERT INTO \`${await tableName(conn, campaignId, 'interactions')}\` (message_id, contact_id, method_id, kind, detail, created_at)
        SELECT m.id, m.contact_id, m.method_id, 'responded', 'said yes', ${at} FROM \`${messages}\` m WHERE m.id > ? AND m.id % ? = 0`, [from, every]);
    }
  }
  return ids;
}

export interface TableCounts {
  hot: number;
  history: number;
}

/** Runs the reads in one consistent snapshot: what they see is one instant, even while a move runs. */
async function inSnapshot<T>(conn: Connection, fn: () => Promise<T>): Promise<T> {
  await conn.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  try {
    return await fn();
  } finally {
    await conn.query('COMMIT');
  }
}

/** Rows per kind in the hot table and its history twin, at one instant. */
export async function counts(conn: Connection, campaignId: number): Promise<Record<string, TableCounts>> {
  const names: Record<string, [string, string]> = {};
  for (const kind of HOT_KINDS) names[kind] = [await tableName(conn, campaignId, kind), await tableName(conn, campaignId, `${kind}_history`)];
  return inSnapshot(conn, async () => {
    const out: Record<string, TableCounts> = {};
    for (const kind of HOT_KINDS) {
      const [{ hot }] = await queryRows<{ hot: number }>(conn, `SELECT COUNT(*) AS hot FROM \`${names[kind][0]}\``);
      const [{ history }] = await queryRows<{ history: number }>(conn, `SELECT COUNT(*) AS history FROM \`${names[kind][1]}\``);
      out[kind] = { hot: Number(hot), history: Number(history) };
    }
    return out;
  });
}

export function totals(c: Record<string, TableCounts>): Record<string, number> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.hot + v.history]));
}

/**
 * Rows that are in both a hot table and its twin (by key), and child rows left in a hot table
 * whose message is in history (a chunk half moved). All zero when every row is in one place.
 */
export async function misplaced(conn: Connection, campaignId: number): Promise<Record<string, number>> {
  const names = new Map<string, string>();
  for (const kind of HOT_KINDS) for (const k of [kind, `${kind}_history`]) names.set(k, await tableName(conn, campaignId, k));
  const t = async (kind: string) => `\`${names.get(kind)}\``;
  const one = async (sql: string) => Number((await queryRows<{ n: number }>(conn, sql))[0].n);
  return inSnapshot(conn, async () => ({
    messagesInBoth: await one(`SELECT COUNT(*) AS n FROM ${await t('messages')} h JOIN ${await t('messages_history')} x ON x.id = h.id`),
    statusesInBoth: await one(`SELECT COUNT(*) AS n FROM ${await t('message_contact_status')} h JOIN ${await t('message_contact_status_history')} x
      ON x.message_id = h.message_id AND x.method_id = h.method_id`),
    updatesInBoth: await one(`SELECT COUNT(*) AS n FROM ${await t('status_updates')} h JOIN ${await t('status_updates_history')} x ON x.id = h.id`),
    interactionsInBoth: await one(`SELECT COUNT(*) AS n FROM ${await t('interactions')} h JOIN ${await t('interactions_history')} x ON x.id = h.id`),
    hotChildrenOfMoved: await one(`SELECT (SELECT COUNT(*) FROM ${await t('message_contact_status')} WHERE message_id IN (SELECT id FROM ${await t('messages_history')}))
      + (SELECT COUNT(*) FROM ${await t('status_updates')} WHERE message_id IN (SELECT id FROM ${await t('messages_history')}))
      + (SELECT COUNT(*) FROM ${await t('interactions')} WHERE message_id IN (SELECT id FROM ${await t('messages_history')})) AS n`),
    historyChildrenOfHot: await one(`SELECT (SELECT COUNT(*) FROM ${await t('message_contact_status_history')} WHERE message_id IN (SELECT id FROM ${await t('messages')}))
      + (SELECT COUNT(*) FROM ${await t('status_updates_history')} WHERE message_id IN (SELECT id FROM ${await t('messages')}))
      + (SELECT COUNT(*) FROM ${await t('interactions_history')} WHERE message_id IN (SELECT id FROM ${await t('messages')})) AS n`),
  }));
}

export const NOTHING_MISPLACED = {
  messagesInBoth: 0, statusesInBoth: 0, updatesInBoth: 0, interactionsInBoth: 0, hotChildrenOfMoved: 0, historyChildrenOfHot: 0,
};

/** The rows of a hot table (or its twin) for some messages, in the hot table's columns, for comparing before/after a move. */
export async function rowsOf(conn: Connection, campaignId: number, kind: string, messageIds: number[], history = false): Promise<unknown[]> {
  const hot = await tableName(conn, campaignId, kind);
  const table = history ? await tableName(conn, campaignId, `${kind}_history`) : hot;
  const columns = (await queryRows<{ c: string }>(conn,
    'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [hot])).map((r) => r.c);
  const key = kind === 'messages' ? 'id' : 'message_id';
  if (!messageIds.length) return [];
  const order = kind === 'message_contact_status' ? 'message_id, method_id' : 'id';
  return queryRows(conn, `SELECT ${columns.map((c) => `\`${c}\``).join(', ')} FROM \`${table}\` WHERE \`${key}\` IN (?) ORDER BY ${order}`, [messageIds]);
}
