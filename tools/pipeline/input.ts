// Readers for message files: CSV (RFC 4180, header row, quoted fields may hold commas, quotes and
// newlines) and JSON Lines (one object per line). Both stream, so a file of any size is read in
// constant memory, and both say where each record came from (record number and line) so a
// rejected load can name the rows at fault.
import fs from 'fs';
import { isUtf8 } from 'buffer';
import { UserError } from '../errors';

export type InputFormat = 'csv' | 'jsonl';

export interface InputRecord {
  /** 1-based number of the data record (the CSV header is not a record). */
  row: number;
  /** 1-based line of the file where the record starts. */
  line: number;
  /** Field name -> value as read (strings for CSV; JSON values for JSONL; null for empty/null). */
  fields: Record<string, unknown>;
  /** The record's text as it stood in the file, for the reject file. */
  raw: string;
  /** Set when the record could not be read at all (bad JSON, wrong number of CSV fields). */
  error?: string;
}

export function formatOf(file: string): InputFormat {
  if (/\.csv$/i.test(file)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  throw new UserError(`${file}: expected a .csv or .jsonl file`);
}

/**
 * Invalid UTF-8 is never replaced by U+FFFD (which would load as if it were the text): each bad
 * byte becomes a lone low surrogate U+DC00+byte (valid UTF-8 never decodes to one), so the record
 * holding it is rejected with its line and byte offset (invalidUtf8At).
 */
const BAD_BYTE = /(?<![\uD800-\uDBFF])[\uDC00-\uDCFF]/;

/** Length of the UTF-8 sequence starting at buf[i], or 0 when it is not a valid one (Unicode table 3-7). */
function sequenceLength(buf: Buffer, i: number): number {
  const b = buf[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < buf.length && buf[i + k] >= lo && buf[i + k] <= hi;
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0;
  if (b === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** Bytes at the end of buf that start a sequence the next chunk may complete. */
function incompleteTail(buf: Buffer): number {
  for (let k = 1; k <= Math.min(3, buf.length); k++) {
    const b = buf[buf.length - k];
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

function decodeMarkingBadBytes(buf: Buffer): string {
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  let runStart = 0;
  for (let i = 0; i < buf.length;) {
    const n = sequenceLength(buf, i);
    if (n) {
      i += n;
      continue;
    }
    out += buf.toString('utf8', runStart, i) + String.fromCharCode(0xdc00 + buf[i]);
    i++;
    runStart = i;
  }
  return out + buf.toString('utf8', runStart);
}

/** "invalid UTF-8 at byte N of the record" when the text holds a bad byte, else null. */
export function invalidUtf8At(text: string): string | null {
  const match = BAD_BYTE.exec(text);
  if (!match) return null;
  const before = text.slice(0, match.index).replace(new RegExp(BAD_BYTE.source, 'g'), 'x');
  return `holds invalid UTF-8 (byte 0x${(text.charCodeAt(match.index) - 0xdc00).toString(16).toUpperCase().padStart(2, '0')} at byte offset ${Buffer.byteLength(before, 'utf8')} of the record)`;
}

/** The bytes a record's text came from: bad bytes are written back as they were, not as U+FFFD. */
export function originalBytes(text: string): Buffer {
  if (!BAD_BYTE.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  const all = new RegExp(BAD_BYTE.source, 'g');
  for (let m = all.exec(text); m; m = all.exec(text)) {
    parts.push(Buffer.from(text.slice(start, m.index), 'utf8'), Buffer.from([text.charCodeAt(m.index) - 0xdc00]));
    start = m.index + 1;
  }
  parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** Streams a file's text in chunks, tracking bytes read for progress. */
async function* chunks(file: string, onBytes?: (n: number) => void): AsyncGenerator<string> {
  let carry = Buffer.alloc(0);
  let first = true;
  for await (const buf of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    onBytes?.((buf as Buffer).length);
    const bytes = carry.length ? Buffer.concat([carry, buf as Buffer]) : (buf as Buffer);
    const tail = incompleteTail(bytes);
    carry = Buffer.from(bytes.subarray(bytes.length - tail));
    let text = decodeMarkingBadBytes(bytes.subarray(0, bytes.length - tail));
    if (first) {
      text = text.replace(/^\uFEFF/, '');
      first = false;
    }
    if (text) yield text;
  }
  if (carry.length) yield decodeMarkingBadBytes(carry);
}

/**
 * Splits CSV text into records of raw fields; quotes are undone, the raw text is kept. Lines
 * without a quote character (the common case) are split directly; a record with quotes goes
 * through the character-level state machine, which also joins quoted newlines.
 */
async function* csvRecords(file: string, onBytes?: (n: number) => void): AsyncGenerator<{ values: string[]; quoted: boolean[]; line: number; raw: string }> {
  let carry = '';
  let line = 1;
  const noQuotes = (n: number) => new Array<boolean>(n).fill(false);
  for await (const text of chunks(file, onBytes)) {
    const buf = carry + text;
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf('\n', pos);
      if (nl < 0) break;
      let rawLine = buf.slice(pos, nl);
      if (rawLine.endsWith('\r')) rawLine = rawLine.slice(0, -1);
      if (rawLine.indexOf('"') < 0) {
        pos = nl + 1;
        if (rawLine !== '') {
          const values = rawLine.split(',');
          yield { values, quoted: noQuotes(values.length), line, raw: rawLine };
        }
        line++;
        continue;
      }
      // A record with quotes: parse it whole; if a quoted field is still open at the end of the
      // buffered text, wait for more text.
      const parsed = parseQuotedRecord(buf, pos);
      if (!parsed) break;
      yield { values: parsed.values, quoted: parsed.quoted, line, raw: parsed.raw };
      line += parsed.newlines + 1;
      pos = parsed.end;
    }
    carry = buf.slice(pos);
  }
  if (carry !== '' && carry !== '\r') {
    const parsed = parseQuotedRecord(carry + '\n', 0);
    if (parsed) yield { values: parsed.values, quoted: parsed.quoted, line, raw: parsed.raw };
    else yield { values: [carry], quoted: [true], line, raw: `${carry} (unterminated quote)` };
  }
}

/**
 * One CSV record starting at `start`, up to and including its line end; null when the text ends
 * inside a quoted field (more text is needed).
 */
function parseQuotedRecord(text: string, start: number): { values: string[]; quoted: boolean[]; raw: string; end: number; newlines: number } | null {
  const values: string[] = [];
  const quoted: boolean[] = [];
  let field = '';
  let fieldQuoted = false;
  let inQuotes = false;
  let newlines = 0;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (i + 1 >= text.length) return null;
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (ch === '\n') newlines++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '' && !fieldQuoted) {
      inQuotes = true;
      fieldQuoted = true;
    } else if (ch === ',') {
      values.push(field);
      quoted.push(fieldQuoted);
      field = '';
      fieldQuoted = false;
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      values.push(field);
      quoted.push(fieldQuoted);
      const end = ch === '\r' ? i + 2 : i + 1;
      return { values, quoted, raw: text.slice(start, i), end, newlines };
    } else {
      field += ch;
    }
  }
  return null;
}

/**
 * Reads a CSV file with a header row. An unquoted empty field is null (missing); a quoted empty
 * field is the empty string. A record with a different number of fields than the header is
 * returned with an error, not dropped.
 */
async function* readCsv(file: string, onBytes?: (n: number) => void): AsyncGenerator<InputRecord> {
  let header: string[] | null = null;
  let row = 0;
  for await (const rec of csvRecords(file, onBytes)) {
    const badText = invalidUtf8At(rec.raw);
    if (!header) {
      if (badText) throw new UserError(`${file}: the header (line ${rec.line}) ${badText}`);
      header = rec.values.map((h) => h.trim().toLowerCase());
      const dup = header.find((h, i) => header!.indexOf(h) !== i);
      if (dup) throw new UserError(`${file}: column "${dup}" appears twice in the header`);
      if (header.some((h) => h === '')) throw new UserError(`${file}: the header has an empty column name`);
      continue;
    }
    row++;
    const fields: Record<string, unknown> = {};
    if (badText) {
      yield { row, line: rec.line, fields, raw: rec.raw, error: badText };
      continue;
    }
    if (rec.values.length !== header.length) {
      yield { row, line: rec.line, fields, raw: rec.raw, error: `has ${rec.values.length} fields, the header has ${header.length}` };
      continue;
    }
    header.forEach((name, i) => {
      fields[name] = rec.values[i] === '' && !rec.quoted[i] ? null : rec.values[i];
    });
    yield { row, line: rec.line, fields, raw: rec.raw };
  }
  if (!header) throw new UserError(`${file}: empty file (a CSV file needs a header row)`);
}

async function* readJsonl(file: string, onBytes?: (n: number) => void): AsyncGenerator<InputRecord> {
  let carry = '';
  let line = 0;
  let row = 0;
  const parse = (text: string): InputRecord | null => {
    line++;
    const trimmed = text.replace(/\r$/, '');
    if (!trimmed.trim()) return null;
    row++;
    const badText = invalidUtf8At(trimmed);
    if (badText) return { row, line, fields: {}, raw: trimmed, error: badText };
    try {
      const value = JSON.parse(trimmed) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return { row, line, fields: {}, raw: trimmed, error: 'is not a JSON object' };
      }
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) fields[k.toLowerCase()] = v;
      return { row, line, fields, raw: trimmed };
    } catch (err) {
      return { row, line, fields: {}, raw: trimmed, error: `is not valid JSON (${(err as Error).message})` };
    }
  };
  for await (const text of chunks(file, onBytes)) {
    const parts = (carry + text).split('\n');
    carry = parts.pop()!;
    for (const part of parts) {
      const rec = parse(part);
      if (rec) yield rec;
    }
  }
  if (carry) {
    const rec = parse(carry);
    if (rec) yield rec;
  }
}

export function readRecords(file: string, format: InputFormat, onBytes?: (n: number) => void): AsyncGenerator<InputRecord> {
  if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
  return format === 'csv' ? readCsv(file, onBytes) : readJsonl(file, onBytes);
}
