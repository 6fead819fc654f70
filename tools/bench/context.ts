// What every section of a benchmark run shares: the throwaway database, the seeded company, and a
// few helpers (fresh campaign sets, table names, messages made up in memory).
import { ProgressOptions } from '../progress';
import { createCampaignSet, campaignTableName } from '../campaigns/sets';
import { insertCampaign } from '../campaigns/generator';
import { connect, Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { ServerInfo } from '../sql/flavour';

export interface BenchContext {
  /** URL of the throwaway database. */
  url: string;
  /** URL of the server (no database). */
  serverUrl: string;
  database: string;
  server: ServerInfo;
  /** The run's own connection for set-up and checks. */
  conn: Connection;
  companyId: number;
  contactIds: number[];
  /** A user whose role is global: mark-ready and other access-checked calls use it. */
  adminUserId: number;
  methods: Map<string, number>;
  progress: ProgressOptions['mode'];
  /** Folder for the run's files (message file, dumps); removed at the end. */
  workDir: string;
  log(line: string): void;
  /** Set when the run is being stopped (Ctrl-C): long loops end early. */
  stopping(): boolean;
  /** Every connection the run opened, so Ctrl-C can close them before dropping the database. */
  connections: Set<Connection>;
}

export async function openConnection(ctx: BenchContext, options: { localInfile?: boolean } = {}): Promise<Connection> {
  const conn = await connect(ctx.url, options);
  ctx.connections.add(conn);
  conn.once('end', () => ctx.connections.delete(conn));
  return conn;
}

let campaignSeq = 0;

/** A new campaign of the bench company with its table set at the newest template version. */
export async function freshCampaign(ctx: BenchContext, label: string): Promise<{ campaignId: number; messages: string }> {
  const campaignId = await insertCampaign(ctx.conn, ctx.companyId, `bench ${++campaignSeq} ${label}`.slice(0, 200));
  await createCampaignSet(ctx.conn, campaignId);
  return { campaignId, messages: await campaignTableName(ctx.conn, campaignId, 'messages') };
}

export async function countRows(conn: Connection, table: string, where = ''): Promise<number> {
  const [row] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${quoteIdentifier(table)}${where ? ` WHERE ${where}` : ''}`);
  return Number(row.n);
}

/** Columns of a message row as the bench writes them (method resolved to its id). */
export const MESSAGE_COLUMNS = ['contact_id', 'method_id', 'packet', 'send_after', 'subject', 'body'] as const;
export type MessageRow = [number, number, number, string | null, string, string];

const FIRST = ['Ada', 'Bo', 'Chen', 'Dara', 'Eli', 'Fatima', 'Goran', 'Hana', 'Ines', 'Jonas', 'Kiri', 'Lea'];

/**
 * The i-th benchmark message: every contact in turn, by e-mail (every generated contact has an
 * e-mail channel), a send-after time a minute apart, and a body of about 80 characters; half the
 * bodies hold a comma, so a CSV file quotes them, as real exports do.
 */
export function messageAt(i: number, contacts: number[], emailId: number, sendAfter = true): MessageRow {
  const at = new Date(Date.UTC(2026, 5, 1, 8, 0, 0) + i * 60_000).toISOString().slice(0, 19).replace('T', ' ');
  const body = i % 2
    ? `Hello ${FIRST[i % FIRST.length]}, your appointment is on ${at.slice(0, 10)} at ${at.slice(11, 16)}. Reply C to confirm.`
    : `Your appointment is on ${at.slice(0, 10)} at ${at.slice(11, 16)}. Reply C to confirm or R to reschedule.`;
  return [contacts[i % contacts.length], emailId, 1, sendAfter ? at : null, `Reminder ${i + 1}`, body];
}

export function fmtInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return Math.round(n).toLocaleString('en-US');
}

export function elapsed(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export function now(): bigint {
  return process.hrtime.bigint();
}
