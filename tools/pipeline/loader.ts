// Bulk loader for a campaign's messages: `reminderly-db messages load --campaign N FILE.csv|.jsonl`.
//
// One pass over the file: each record is validated (contact of the campaign's company with a
// channel for the method, known method, parseable send_after, fields within the column sizes)
// and the good ones stream straight into the server inside one transaction, by LOAD DATA LOCAL
// INFILE (mysql2's infileStreamFactory) where the server allows local infile, else by multi-row
// INSERT batches. If any record is bad the transaction is rolled back and the error lists the
// rows at fault, so a file is never half loaded; with a reject file the good rows are committed
// and the bad ones written there, in the input's own format plus a reject_reason field (which
// the loader ignores, so the fixed file loads as is).
//
// Every committed load is recorded in message_loads (sha256, size, rows) in the same
// transaction as its rows; content already loaded into the campaign is refused before anything
// is written, naming the earlier load, unless the caller says `again`. A set being retired
// refuses the load (pipeline_hold_set, the routines' own check). After a load the messages
// table is analysed (ANALYZE TABLE), so the planner never meets it with empty statistics.
import crypto from 'crypto';
import fs from 'fs';
import { basename } from 'path';
import { Readable } from 'stream';
import { OperationError, UserError } from '../errors';
import { connect, Connection, queryRows, quoteIdentifier } from '../sql/connection';
import { detectServer } from '../sql/flavour';
import { signalsAsUserErrors } from '../sql/signals';
import { startProgress, ProgressOptions } from '../progress';
import { formatOf, InputFormat, InputRecord, originalBytes, readRecords } from './input';

/** Fields a message record may have; `reject_reason` (from a reject file) is ignored. */
export const MESSAGE_FIELDS = ['contact_id', 'method', 'packet', 'send_after', 'subject', 'body'] as const;
const IGNORED_FIELDS = new Set(['reject_reason']);
const REQUIRED_FIELDS = ['contact_id', 'method'];
/** Columns written, in this order (method becomes method_id). */
const COLUMNS = ['contact_id', 'method_id', 'packet', 'send_after', 'subject', 'body'];

export type LoadPath = 'load-data' | 'insert';

export interface LoadOptions {
  url: string;
  campaignId: number;
  file: string;
  /** Load the good rows and write the bad ones here; without it one bad row rejects the load. */
  rejectFile?: string;
  /** Packet for records that do not name one (default 0). */
  packet?: number;
  /** Force a path (tests, benchmarks); default: LOAD DATA where the server allows local infile. */
  path?: LoadPath | 'auto';
  /** Rows per INSERT statement on the INSERT path. */
  batchRows?: number;
  progress?: ProgressOptions['mode'];
  log?: (line: string) => void;
  /** Load the file even though the same content was loaded into the campaign before. */
  again?: boolean;
}

export interface RowProblem {
  row: number;
  line: number;
  reason: string;
}

export interface LoadResult {
  campaignId: number;
  table: string;
  path: LoadPath;
  /** Why this path: the server's local_infile setting or the caller's choice. */
  pathReason: string;
  rows: number;
  loaded: number;
  rejected: number;
  problems: RowProblem[];
  rejectFile: string | null;
  seconds: number;
  rowsPerSecond: number;
  /** The message_loads row recorded for this load, and the content it recognises. */
  loadId: number;
  sha256: string;
  bytes: number;
}

/** A committed load of the same content into the same campaign, as message_loads records it. */
export interface EarlierLoad {
  id: number;
  loadedAt: string;
  fileName: string;
  rowsLoaded: number;
}

/** Loading content the campaign already holds: nothing was loaded. */
export class AlreadyLoaded extends UserError {
  constructor(readonly file: string, readonly campaignId: number, readonly earlier: EarlierLoad) {
    super(`${file}: this content was already loaded into campaign ${campaignId} at ${earlier.loadedAt} UTC ` +
      `(load ${earlier.id}, ${earlier.rowsLoaded} rows, from ${earlier.fileName}); nothing loaded (use --again to load it a second time)`);
  }
}

/** sha256 (hex) and size of a file's bytes: what identifies a load's content. */
export async function fileDigest(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** A load refused because of bad rows: nothing was loaded. */
export class LoadRejected extends UserError {
  constructor(readonly file: string, readonly problems: RowProblem[]) {
    super(`${file}: ${problems.length} bad row(s), nothing loaded (use --reject-file to load the good rows):\n` +
      problems.slice(0, 20).map((p) => `  row ${p.row} (line ${p.line}): ${p.reason}`).join('\n') +
      (problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : ''));
  }
}

interface ColumnLimits {
  subjectChars: number | null;
  bodyChars: number | null;
  bodyBytes: number | null;
}

interface Context {
  companyId: number;
  contacts: Set<number>;
  /** contact id * 256 + method id, for every channel of the company's contacts. */
  channels: Set<number>;
  methods: Map<string, number>;
  limits: ColumnLimits;
  defaultPacket: number;
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** An ISO-8601-ish timestamp (UTC unless it carries an offset) as 'YYYY-MM-DD HH:MM:SS.mmm' UTC, or null. */
export function parseTimestamp(text: string): string | null {
  const m = DATETIME.exec(text.trim());
  if (!m) {
    if (/^\d{4}-\d{2}-\d{2}$/.test(text.trim())) return parseTimestamp(`${text.trim()} 00:00:00`);
    return null;
  }
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(t);
  if (check.getUTCFullYear() !== Number(y) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)
    || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const out = new Date(t);
  if (out.getUTCFullYear() < 1000 || out.getUTCFullYear() > 9999) return null;
  return out.toISOString().replace('T', ' ').replace('Z', '');
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

type Row = [number, number, number, string | null, string | null, string | null];

/** Validates one record; returns the row to load or the reason it is refused. */
export function validateRecord(rec: InputRecord, ctx: Context): Row | string {
  if (rec.error) return `record ${rec.error}`;
  for (const name of Object.keys(rec.fields)) {
    if (!(MESSAGE_FIELDS as readonly string[]).includes(name) && !IGNORED_FIELDS.has(name)) return `unknown field "${name}"`;
  }
  for (const name of REQUIRED_FIELDS) {
    if (rec.fields[name] === null || rec.fields[name] === undefined || text(rec.fields[name])!.trim() === '') return `${name} is missing`;
  }
  const contactText = text(rec.fields.contact_id)!.trim();
  if (!/^\d{1,15}$/.test(contactText)) return `contact_id "${contactText.slice(0, 40)}" is not a whole number`;
  const contactId = Number(contactText);
  if (!ctx.contacts.has(contactId)) return `contact ${contactId} is not a contact of company ${ctx.companyId}`;
  const methodCode = text(rec.fields.method)!.trim().toLowerCase();
  const methodId = ctx.methods.get(methodCode);
  if (methodId === undefined) return `unknown method "${methodCode.slice(0, 40)}" (expected ${[...ctx.methods.keys()].join(', ')})`;
  if (!ctx.channels.has(contactId * 256 + methodId)) return `contact ${contactId} has no ${methodCode} channel`;
  let packet = ctx.defaultPacket;
  const packetText = text(rec.fields.packet);
  if (packetText !== null && packetText.trim() !== '') {
    if (!/^\d{1,10}$/.test(packetText.trim()) || Number(packetText) > 4294967295) return `packet "${packetText.slice(0, 40)}" is not a whole number from 0 to 4294967295`;
    packet = Number(packetText);
  }
  let sendAfter: string | null = null;
  const sendText = text(rec.fields.send_after);
  if (sendText !== null && sendText.trim() !== '') {
    sendAfter = parseTimestamp(sendText);
    if (!sendAfter) return `send_after "${sendText.slice(0, 40)}" is not a date and time (YYYY-MM-DD HH:MM[:SS[.fff]][Z|+hh:mm])`;
  }
  const subject = text(rec.fields.subject);
  // UTF-16 length >= characters: count characters only when the quick length says it may be over.
  if (subject !== null && ctx.limits.subjectChars !== null && subject.length > ctx.limits.subjectChars && [...subject].length > ctx.limits.subjectChars) {
    return `subject is ${[...subject].length} characters, at most ${ctx.limits.subjectChars}`;
  }
  const body = text(rec.fields.body);
  if (body !== null) {
    if (ctx.limits.bodyChars !== null && body.length > ctx.limits.bodyChars && [...body].length > ctx.limits.bodyChars) return `body is ${[...body].length} characters, at most ${ctx.limits.bodyChars}`;
    if (ctx.limits.bodyBytes !== null && body.length * 3 > ctx.limits.bodyBytes && Buffer.byteLength(body) > ctx.limits.bodyBytes) return `body is ${Buffer.byteLength(body)} bytes, at most ${ctx.limits.bodyBytes}`;
  }
  return [contactId, methodId, packet, sendAfter, subject, body];
}

/** LOAD DATA's default escaping: backslash, tab, newline, carriage return, NUL; \N is NULL. */
function tsvField(value: string | number | null): string {
  if (value === null) return '\\N';
  return String(value).replace(/[\\\t\n\r\0]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }[c]!));
}

async function loadContext(conn: Connection, campaignId: number, defaultPacket: number): Promise<{ ctx: Context; table: string }> {
  const [campaign] = await queryRows<{ company_id: number }>(conn, 'SELECT company_id FROM campaigns WHERE id = ?', [campaignId]);
  if (!campaign) throw new UserError(`campaign ${campaignId} does not exist`);
  const [set] = await queryRows<{ state: string }>(conn, 'SELECT state FROM campaign_sets WHERE campaign_id = ?', [campaignId]);
  if (!set) throw new UserError(`campaign ${campaignId} has no table set (run: reminderly-db campaign create ${campaignId})`);
  if (set.state === 'retired') throw new UserError(`campaign ${campaignId}: its table set is retired`);
  const companyId = Number(campaign.company_id);
  const [{ t: table }] = await queryRows<{ t: string }>(conn, "SELECT campaign_table_name(?, 'messages') AS t", [campaignId]);
  // The company's contacts and channels, once: validating a million rows costs no round trips.
  const contacts = new Set<number>();
  for (const r of await queryRows<{ id: number }>(conn, 'SELECT id FROM contacts WHERE company_id = ?', [companyId])) contacts.add(Number(r.id));
  const channels = new Set<number>();
  for (const r of await queryRows<{ contact_id: number; method_id: number }>(conn,
    'SELECT ch.contact_id, ch.method_id FROM contacts c JOIN contact_channels ch ON ch.contact_id = c.id WHERE c.company_id = ?', [companyId])) {
    channels.add(Number(r.contact_id) * 256 + Number(r.method_id));
  }
  const methods = new Map<string, number>();
  for (const r of await queryRows<{ id: number; code: string }>(conn, 'SELECT id, code FROM contact_methods ORDER BY id')) methods.set(r.code.toLowerCase(), Number(r.id));
  const cols = await queryRows<{ name: string; chars: number | null; bytes: number | null; type: string }>(conn,
    `SELECT COLUMN_NAME AS name, CHARACTER_MAXIMUM_LENGTH AS chars, CHARACTER_OCTET_LENGTH AS bytes, DATA_TYPE AS type
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, [table]);
  const col = (name: string) => cols.find((c) => c.name === name);
  const isText = (c?: { type: string }) => !!c && /text$/i.test(c.type);
  const subject = col('subject');
  const body = col('body');
  return {
    table,
    ctx: {
      companyId, contacts, channels, methods, defaultPacket,
      limits: {
        subjectChars: subject && !isText(subject) && subject.chars !== null ? Number(subject.chars) : null,
        bodyChars: body && !isText(body) && body.chars !== null ? Number(body.chars) : null,
        bodyBytes: body && isText(body) && body.bytes !== null ? Number(body.bytes) : null,
      },
    },
  };
}

function rejectLine(rec: InputRecord, reason: string, format: InputFormat): string | Buffer {
  if (format === 'jsonl') {
    let value: Record<string, unknown>;
    try {
      const parsed = JSON.parse(rec.raw) as unknown;
      value = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : { record: parsed };
    } catch {
      value = { record: rec.raw };
    }
    return JSON.stringify({ ...value, reject_reason: reason }) + '\n';
  }
  return Buffer.concat([originalBytes(rec.raw), Buffer.from(`,"${reason.replace(/"/g, '""')}"\n`, 'utf8')]);
}

async function firstLine(file: string): Promise<string> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/)[0];
  } finally {
    await handle.close();
  }
}

export async function loadMessages(options: LoadOptions): Promise<LoadResult> {
  const format = formatOf(options.file);
  if (!fs.existsSync(options.file)) throw new UserError(`${options.file}: no such file`);
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  // The reject file is opened before anything else, so a missing folder or a directory is a
  // one-line refusal before the server is touched.
  let rejectFd: number | null = null;
  if (options.rejectFile) {
    try {
      if (fs.existsSync(options.rejectFile) && fs.statSync(options.rejectFile).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      rejectFd = fs.openSync(options.rejectFile, 'w');
    } catch (err) {
      throw new UserError(`--reject-file ${options.rejectFile}: cannot write it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  let conn: Awaited<ReturnType<typeof connect>>;
  try {
    conn = await connect(options.url, { localInfile: true });
  } catch (err) {
    if (rejectFd !== null) fs.closeSync(rejectFd);
    throw err;
  }
  const started = Date.now();
  let rejectStream: fs.WriteStream | null = null;
  try {
    const server = await detectServer(conn);
    let path: LoadPath;
    let pathReason: string;
    if (options.path === 'load-data' || options.path === 'insert') {
      path = options.path;
      pathReason = 'chosen by the caller';
      if (path === 'load-data' && !server.localInfile) throw new UserError('the server has local_infile=OFF: LOAD DATA LOCAL INFILE is not allowed');
    } else if (server.localInfile) {
      path = 'load-data';
      pathReason = 'the server allows local infile';
    } else {
      path = 'insert';
      pathReason = 'the server has local_infile=OFF';
    }
    const { ctx, table } = await loadContext(conn, options.campaignId, options.packet ?? 0);
    const digest = await fileDigest(options.file);
    const problems: RowProblem[] = [];
    let rows = 0;
    let good = 0;
    if (options.rejectFile) {
      rejectStream = fs.createWriteStream(options.rejectFile, { fd: rejectFd! });
      if (format === 'csv') rejectStream.write(`${await firstLine(options.file)},reject_reason\n`);
    }
    const size = fs.statSync(options.file).size;
    const progress = startProgress({ label: `loading ${options.file} into campaign ${options.campaignId}`, total: size, unit: 'bytes', mode: options.progress });
    const onBytes = (n: number) => progress.advance(n);

    // The validated rows, as they come: bad records are set aside, good ones go to the server.
    async function* goodRows(): AsyncGenerator<Row> {
      for await (const rec of readRecords(options.file, format, onBytes)) {
        rows++;
        const result = validateRecord(rec, ctx);
        if (typeof result === 'string') {
          problems.push({ row: rec.row, line: rec.line, reason: result });
          rejectStream?.write(rejectLine(rec, result, format));
          continue;
        }
        good++;
        yield result;
      }
    }

    await conn.query('START TRANSACTION');
    let loaded = 0;
    let loadId = 0;
    try {
      // First, the set's hold, as every routine writing to a set takes it (pipeline_hold_set): a set
      // being retired refuses the load here, and a set the load got into stays in service until
      // the commit (`campaign retire` waits for it, at most its --lock-timeout).
      await signalsAsUserErrors(() => conn.query("CALL pipeline_hold_set('messages load', ?)", [options.campaignId]));
      // FOR UPDATE: two runs of the same file at once serialise here (the second then sees the
      // first's row, or deadlocks and is rolled back whole) instead of both loading.
      const [earlier] = await queryRows<{ id: number; loaded_at: string; file_name: string; rows_loaded: number }>(conn,
        `SELECT id, DATE_FORMAT(loaded_at, '%Y-%m-%d %H:%i:%s') AS loaded_at, file_name, rows_loaded
           FROM message_loads WHERE campaign_id = ? AND file_sha256 = ? AND file_bytes = ? ORDER BY id DESC LIMIT 1 FOR UPDATE`,
        [options.campaignId, digest.sha256, digest.bytes]);
      if (earlier && !options.again) {
        throw new AlreadyLoaded(options.file, options.campaignId, {
          id: Number(earlier.id), loadedAt: earlier.loaded_at, fileName: earlier.file_name, rowsLoaded: Number(earlier.rows_loaded),
        });
      }
      if (path === 'load-data') {
        const source = Readable.from((async function* () {
          let chunk = '';
          for await (const row of goodRows()) {
            chunk += row.map(tsvField).join('\t') + '\n';
            if (chunk.length >= 256 * 1024) {
              yield Buffer.from(chunk);
              chunk = '';
            }
          }
          if (chunk) yield Buffer.from(chunk);
        })());
        const [result] = await conn.query({
          sql: `LOAD DATA LOCAL INFILE 'messages.tsv' INTO TABLE ${quoteIdentifier(table)} CHARACTER SET utf8mb4 ` +
            `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${COLUMNS.join(', ')})`,
          infileStreamFactory: () => source,
        }) as unknown as [{ affectedRows: number; warningStatus: number }];
        loaded = result.affectedRows;
        if (result.warningStatus > 0 || loaded !== good) {
          const warnings = await queryRows<{ Message: string }>(conn, 'SHOW WARNINGS LIMIT 3');
          throw new OperationError(`LOAD DATA loaded ${loaded} of ${good} rows with ${result.warningStatus} warning(s): ` +
            warnings.map((w) => w.Message).join('; '));
        }
      } else {
        const batchRows = options.batchRows ?? 1000;
        let batch: Row[] = [];
        const flush = async () => {
          if (!batch.length) return;
          const [r] = await conn.query(`INSERT INTO ${quoteIdentifier(table)} (${COLUMNS.join(', ')}) VALUES ?`, [batch]) as unknown as [{ affectedRows: number }];
          loaded += r.affectedRows;
          batch = [];
        };
        for await (const row of goodRows()) {
          batch.push(row);
          if (batch.length >= batchRows) await flush();
        }
        await flush();
      }
      if (problems.length && !options.rejectFile) {
        await conn.query('ROLLBACK');
        progress.finish('rejected, nothing loaded');
        throw new LoadRejected(options.file, problems);
      }
      const [recorded] = await conn.query(
        `INSERT INTO message_loads (campaign_id, file_sha256, file_bytes, file_name, rows_read, rows_loaded, loaded_at, again)
         VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3), ?)`,
        [options.campaignId, digest.sha256, digest.bytes, basename(options.file).slice(0, 255), rows, loaded, earlier ? 1 : 0]) as unknown as [{ insertId: number }];
      loadId = Number(recorded.insertId);
      await conn.query('COMMIT');
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    // Fresh statistics for the tables the load changed: InnoDB recalculates them in the background
    // only after 10 % of a table changed and persists them later still, so a server restarted
    // soon after a big load (or a planner asked at once) can believe the table empty and scan it.
    if (loaded > 0) await conn.query(`ANALYZE TABLE ${quoteIdentifier(table)}`);
    const seconds = (Date.now() - started) / 1000;
    progress.finish(`${loaded} loaded${problems.length ? `, ${problems.length} rejected` : ''}`);
    log(`campaign ${options.campaignId}: ${loaded} rows loaded into ${table} with ${path === 'load-data' ? 'LOAD DATA LOCAL INFILE' : `multi-row INSERT batches of ${options.batchRows ?? 1000}`} (${pathReason})` +
      (problems.length ? `; ${problems.length} bad rows written to ${options.rejectFile}` : ''));
    return {
      campaignId: options.campaignId, table, path, pathReason, rows, loaded, rejected: problems.length, problems,
      rejectFile: options.rejectFile ?? null, seconds, rowsPerSecond: Math.round(loaded / Math.max(seconds, 0.001)),
      loadId, sha256: digest.sha256, bytes: digest.bytes,
    };
  } finally {
    if (rejectStream) await new Promise((r) => rejectStream!.end(r));
    await conn.end().catch(() => conn.destroy());
  }
}
