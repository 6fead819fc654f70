// History moves: finished, old messages of each campaign set (with their status rows, status
// updates and interactions) go to the set's *_history tables. The database does the moving
// (procedures/history_move.sql, one transaction per chunk); this module picks the sets, shows
// progress between calls, retries a chunk that lost a deadlock, and reports per set.
import { UserError } from '../errors';
import { Connection, queryRows } from '../sql/connection';
import { isRoutineSignal } from '../sql/signals';
import { startProgress, ProgressOptions } from '../progress';
import { parseAge } from './offload';

const DAY_MS = 86_400_000;
export const DEFAULT_CHUNK = 1000;
export const MAX_CHUNK = 10_000;
/** Messages per history_move call: the progress granularity (each call commits chunk by chunk anyway). */
const MESSAGES_PER_CALL = 10_000;
/** Deadlock (1213) and lock wait timeout (1205) roll back one chunk; the call is simply made again. */
const RETRYABLE_ERRNOS = new Set([1213, 1205]);
const MAX_RETRIES = 5;

/** --older-than for history moves: whole days (30d), since statuses are aged in days. */
export function parseDays(text: string): number {
  const ms = parseAge(text);
  if (ms % DAY_MS !== 0) throw new UserError(`history moves take whole days (e.g. 30d), got "${text}"`);
  return ms / DAY_MS;
}

export function parseChunk(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || Number(text) > MAX_CHUNK) {
    throw new UserError(`--chunk must be 1 to ${MAX_CHUNK} messages, got "${text}"`);
  }
  return Number(text);
}

export interface HistoryPreview {
  campaignId: number;
  /** Messages in the hot table. */
  messages: number;
  /** Messages without a status yet or with one that is not final. */
  unfinished: number;
  /** Messages history_move would move now. */
  eligible: number;
  messageContactStatus: number;
  statusUpdates: number;
  interactions: number;
  readyQueue: number;
  /** Messages already in the history table. */
  historyMessages: number;
}

export interface MovedCounts {
  chunks: number;
  messages: number;
  messageContactStatus: number;
  statusUpdates: number;
  interactions: number;
  readyQueue: number;
}

export interface HistoryResult {
  campaignId: number;
  outcome: 'moved' | 'nothing-to-move' | 'dry-run' | 'failed';
  /** What was eligible when the set was looked at (the dry run's answer). */
  preview?: HistoryPreview;
  moved: MovedCounts;
  error?: string;
  seconds: number;
}

const zeroCounts = (): MovedCounts => ({ chunks: 0, messages: 0, messageContactStatus: 0, statusUpdates: 0, interactions: 0, readyQueue: 0 });

function messageOf(err: unknown): string {
  const e = err as { sqlMessage?: string; message?: string };
  return e.sqlMessage ?? e.message ?? String(err);
}

export async function previewHistory(conn: Connection, campaignId: number, olderThanDays: number): Promise<HistoryPreview> {
  const [rows] = await conn.query('CALL history_move_preview(?, ?)', [campaignId, olderThanDays]) as unknown as [Record<string, unknown>[][]];
  const r = rows[0][0];
  return {
    campaignId, messages: Number(r.messages), unfinished: Number(r.unfinished), eligible: Number(r.eligible),
    messageContactStatus: Number(r.message_contact_status), statusUpdates: Number(r.status_updates),
    interactions: Number(r.interactions), readyQueue: Number(r.ready_queue), historyMessages: Number(r.history_messages),
  };
}

export interface MoveOptions {
  olderThanDays: number;
  chunk: number;
  /** Called after each history_move call with the messages it moved. */
  onMoved?: (messages: number) => void;
}

/** Moves one set's eligible messages, call after call, until history_move says none is left. */
export async function moveSetHistory(conn: Connection, campaignId: number, options: MoveOptions): Promise<MovedCounts> {
  const total = zeroCounts();
  const maxChunks = Math.max(1, Math.floor(MESSAGES_PER_CALL / options.chunk));
  let afterId = 0;
  let retries = 0;
  for (;;) {
    let row: Record<string, unknown>;
    try {
      const [rows] = await conn.query('CALL history_move(?, ?, ?, ?, ?)',
        [campaignId, options.olderThanDays, options.chunk, afterId, maxChunks]) as unknown as [Record<string, unknown>[][]];
      row = rows[0][0];
    } catch (err) {
      const errno = (err as { errno?: number }).errno;
      if (errno !== undefined && RETRYABLE_ERRNOS.has(errno) && retries < MAX_RETRIES) {
        // Only the chunk in flight was rolled back; the committed ones stay moved. Go again from
        // the same place (a moved message is no longer there to be picked).
        retries++;
        continue;
      }
      throw err;
    }
    retries = 0;
    total.chunks += Number(row.chunks);
    total.messages += Number(row.messages);
    total.messageContactStatus += Number(row.message_contact_status);
    total.statusUpdates += Number(row.status_updates);
    total.interactions += Number(row.interactions);
    total.readyQueue += Number(row.ready_queue);
    afterId = Number(row.last_id);
    options.onMoved?.(Number(row.messages));
    if (Number(row.done) === 1) return total;
  }
}

/** The sets history moves apply to: every active one (retired sets have no tables). */
export async function activeSets(conn: Connection): Promise<number[]> {
  const rows = await queryRows<{ id: number }>(conn, "SELECT campaign_id AS id FROM campaign_sets WHERE state = 'active' ORDER BY campaign_id");
  return rows.map((r) => Number(r.id));
}

export interface HistoryRunOptions {
  /** The sets to work on; undefined = every active set. */
  campaignIds?: number[];
  olderThanDays: number;
  chunk?: number;
  dryRun?: boolean;
  progress?: ProgressOptions['mode'];
}

/**
 * History moves for the given sets (or every active one): each set is previewed (the progress
 * total, and the whole answer of a dry run), then moved. A set that fails is reported and the
 * others go on; a bad argument for a single named set is the user's mistake (UserError).
 */
export async function runHistoryMoves(conn: Connection, options: HistoryRunOptions): Promise<HistoryResult[]> {
  const chunk = options.chunk ?? DEFAULT_CHUNK;
  const single = options.campaignIds?.length === 1;
  const ids = options.campaignIds ?? (await activeSets(conn));
  const results: HistoryResult[] = [];
  const previews = new Map<number, HistoryPreview>();
  for (const campaignId of ids) {
    const started = Date.now();
    try {
      previews.set(campaignId, await previewHistory(conn, campaignId, options.olderThanDays));
    } catch (err) {
      if (single && isRoutineSignal(err)) throw new UserError(err.sqlMessage);
      results.push({ campaignId, outcome: 'failed', moved: zeroCounts(), error: messageOf(err), seconds: (Date.now() - started) / 1000 });
    }
  }
  if (options.dryRun) {
    for (const [campaignId, preview] of previews) results.push({ campaignId, outcome: 'dry-run', preview, moved: zeroCounts(), seconds: 0 });
    return results.sort((a, b) => a.campaignId - b.campaignId);
  }
  const eligible = [...previews.values()].reduce((n, p) => n + p.eligible, 0);
  const progress = startProgress({ label: 'moving finished messages to history', total: eligible, unit: 'messages', mode: options.progress });
  for (const [campaignId, preview] of previews) {
    const started = Date.now();
    try {
      const moved = preview.eligible === 0 ? zeroCounts()
        : await moveSetHistory(conn, campaignId, { olderThanDays: options.olderThanDays, chunk, onMoved: (n) => progress.advance(n) });
      results.push({ campaignId, outcome: moved.messages ? 'moved' : 'nothing-to-move', preview, moved, seconds: (Date.now() - started) / 1000 });
    } catch (err) {
      if (single && isRoutineSignal(err)) {
        progress.finish();
        throw new UserError(err.sqlMessage);
      }
      results.push({ campaignId, outcome: 'failed', preview, moved: zeroCounts(), error: messageOf(err), seconds: (Date.now() - started) / 1000 });
    }
  }
  const moved = results.reduce((n, r) => n + r.moved.messages, 0);
  const failed = results.filter((r) => r.outcome === 'failed').length;
  progress.finish(`${moved} messages moved from ${results.filter((r) => r.moved.messages).length} set(s)${failed ? `, ${failed} set(s) failed` : ''}`);
  return results.sort((a, b) => a.campaignId - b.campaignId);
}

export function describeHistoryResult(r: HistoryResult): string {
  const rows = (c: { messageContactStatus: number; statusUpdates: number; interactions: number; readyQueue: number }) =>
    `${c.messageContactStatus} status rows, ${c.statusUpdates} status updates, ${c.interactions} interactions, ${c.readyQueue} queue entries`;
  switch (r.outcome) {
    case 'dry-run':
      return `campaign ${r.campaignId}: would move ${r.preview!.eligible} of ${r.preview!.messages} messages (${rows(r.preview!)}); ` +
        `${r.preview!.unfinished} unfinished; nothing changed`;
    case 'moved':
      return `campaign ${r.campaignId}: ${r.moved.messages} messages moved to history in ${r.moved.chunks} chunk(s) (${rows(r.moved)})`;
    case 'nothing-to-move':
      return `campaign ${r.campaignId}: nothing old and finished to move`;
    default:
      return `campaign ${r.campaignId}: FAILED: ${r.error}`;
  }
}
