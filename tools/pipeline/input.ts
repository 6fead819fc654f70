// Readers for message files: CSV (RFC 4180, header row, quoted fields may hold commas, quotes and
// newlines) and JSON Lines (one object per line). Both stream, so a file of any size is read in
// constant memory, and both say where each record came from (record number and line) so a
// rejected load can name the rows at fault.
import fs from 'fs';
import { StringDecoder } from 'string_decoder';
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

/** Streams a file's text in chunks, tracking bytes read for progress. */
async function* chunks(file: string, onBytes?: (n: number) => void): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let first = true;
  for await (const buf of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    onBytes?.((buf as Buffer).length);
    let text = decoder.write(buf as Buffer);
    if (first) {
      text = text.replace(/^\uFEFF/, '');
      first = false;
    }
    if (text) yield text;
  }
  const rest = decoder.end();
  if (rest) yield rest;
}

/** Splits CSV text into records of raw fields; quotes are undone, the raw text is kept. */
async function* csvRecords(file: string, onBytes?: (n: number) => void): AsyncGenerator<{ values: string[]; quoted: boolean[]; line: number; raw: string }> {
  let values: string[] = [];
  let quoted: boolean[] = [];
  let field = '';
  let fieldQuoted = false;
  let inQuotes = false;
  let afterQuote = false;
  let raw = '';
  let line = 1;
  let startLine = 1;
  let pendingCR = false;
  const endField = () => {
    values.push(field);
    quoted.push(fieldQuoted);
    field = '';
    fieldQuoted = false;
    afterQuote = false;
  };
  for await (const text of chunks(file, onBytes)) {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (pendingCR) {
        pendingCR = false;
        if (ch === '\n') continue;
      }
      if (inQuotes) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            raw += '""';
            i++;
          } else {
            // A closing quote; at a chunk's end it may still be the first half of "" (see below).
            inQuotes = false;
            afterQuote = true;
            raw += ch;
          }
        } else {
          if (ch === '\n') line++;
          field += ch;
          raw += ch;
        }
        continue;
      }
      if (ch === '"' && afterQuote) {
        // "" split across two chunks: an escaped quote after all.
        inQuotes = true;
        afterQuote = false;
        field += '"';
        raw += ch;
        continue;
      }
      if (ch === '"' && field === '' && !fieldQuoted) {
        inQuotes = true;
        fieldQuoted = true;
        raw += ch;
        continue;
      }
      if (ch === ',') {
        endField();
        raw += ch;
        continue;
      }
      if (ch === '\n' || ch === '\r') {
        endField();
        pendingCR = ch === '\r';
        const record = { values, quoted, line: startLine, raw };
        values = [];
        quoted = [];
        raw = '';
        line++;
        startLine = line;
        if (!(record.values.length === 1 && record.values[0] === '' && !record.quoted[0])) yield record;
        continue;
      }
      field += ch;
      raw += ch;
      afterQuote = false;
    }
  }
  if (inQuotes) {
    endField();
    yield { values: [...values], quoted, line: startLine, raw: raw + ' (unterminated quote)' };
    return;
  }
  if (field !== '' || values.length || fieldQuoted) {
    endField();
    yield { values, quoted, line: startLine, raw };
  }
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
    if (!header) {
      header = rec.values.map((h) => h.trim().toLowerCase());
      const dup = header.find((h, i) => header!.indexOf(h) !== i);
      if (dup) throw new UserError(`${file}: column "${dup}" appears twice in the header`);
      if (header.some((h) => h === '')) throw new UserError(`${file}: the header has an empty column name`);
      continue;
    }
    row++;
    const fields: Record<string, unknown> = {};
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
