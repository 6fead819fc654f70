// Round trips: every generated fixture binding, called against the real server, returns what a raw
// CALL returns (read with mysql2's string-preserving options), including NULLs, the extremes of
// BIGINT and DECIMAL(65,30), unicode and binary data; zero dates are refused; signals become
// RoutineError and other failures stay what they are; results do not depend on the caller's
// mysql2 options.
import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { camelCase } from '../../tools/codegen/model';
import { Connection, connect, parseUrl } from '../../tools/sql/connection';
import {
  ArgumentError, BindingShapeError, cgCheckLabel, cgGetItem, cgItemEvents, cgLabelOf, cgNowItems, cgParamModes, CgPutItemArgs, cgPutItem,
  cgReport, cgTagDoc, cgUntyped, RoutineError, ValueReadError,
} from './golden';
import { loadFixtureProject, runFixtureFile, FIXTURE_PROJECT } from './helpers';
import path from 'path';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const U64_MAX = 18446744073709551615n;
const I64_MIN = -9223372036854775808n;
const I64_MAX = 9223372036854775807n;
const DEC_MAX = '99999999999999999999999999999999999.999999999999999999999999999999';
const DEC_MIN = '-' + DEC_MAX;
const UNICODE = 'ünïcödé — 中文 — emoji 😀🎉 — RTL עברית';
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** mysql2 options that keep every value as the server sent it (strings for big numbers, dates and JSON). */
async function rawConnection(url: string): Promise<mysql.Connection> {
  const u = parseUrl(url);
  const conn = await mysql.createConnection({
    host: u.host, port: u.port, user: u.user, password: u.password, database: u.database ?? undefined,
    supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: false, dateStrings: true, jsonStrings: true, charset: 'utf8mb4_unicode_ci',
  });
  await conn.query("SET time_zone = '+00:00'");
  return conn;
}

/** A caller whose mysql2 options would change every value if the runtime relied on them. */
async function awkwardConnection(url: string): Promise<mysql.Connection> {
  const u = parseUrl(url);
  const conn = await mysql.createConnection({
    host: u.host, port: u.port, user: u.user, password: u.password, database: u.database ?? undefined,
    supportBigNumbers: false, bigNumberStrings: false, decimalNumbers: true, dateStrings: ['DATE'], jsonStrings: true,
    timezone: '+05:00', nestTables: true, rowsAsArray: true, typeCast: () => 'cast by the caller',
  });
  // The session's time zone is the database's (UTC): only the client-side options differ.
  await conn.query("SET time_zone = '+00:00'");
  return conn;
}

function isoOfRaw(raw: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(raw)) return `${raw}T00:00:00.000Z`;
  const [day, time] = raw.split(' ');
  const [hms, frac = ''] = time.split('.');
  return `${day}T${hms}.${(frac + '000').slice(0, 3)}Z`;
}

/** Asserts that a binding's value is the raw value the server sent, read through the type mapping. */
function expectSame(actual: unknown, raw: unknown, what: string): void {
  if (raw === null || raw === undefined) return void expect(actual, what).to.equal(null);
  if (typeof actual === 'bigint') return void expect(actual.toString(), what).to.equal(String(raw));
  if (actual instanceof Date) return void expect(actual.toISOString(), what).to.equal(isoOfRaw(String(raw)));
  if (typeof actual === 'boolean') return void expect(actual, what).to.equal(Number(raw) !== 0);
  if (Buffer.isBuffer(actual)) return void expect(actual.equals(raw as Buffer), `${what}: ${actual.toString('hex')} vs ${(raw as Buffer).toString('hex')}`).to.equal(true);
  if (actual !== null && typeof actual === 'object') return void expect(actual, what).to.deep.equal(JSON.parse(String(raw)));
  expect(actual, what).to.equal(raw);
}

function expectRowsSame(actual: object[], raw: Record<string, unknown>[], what: string): void {
  expect(actual.length, `${what}: row count`).to.equal(raw.length);
  raw.forEach((row, i) => {
    const got = actual[i] as Record<string, unknown>;
    expect(Object.keys(got), `${what}: columns`).to.deep.equal(Object.keys(row).map(camelCase));
    for (const [column, value] of Object.entries(row)) expectSame(got[camelCase(column)], value, `${what}[${i}].${column}`);
  });
}

async function rawCall(conn: mysql.Connection, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[][]> {
  const [results] = await conn.query(sql, params);
  if (!Array.isArray(results)) return [];
  return (results as unknown[]).filter(Array.isArray) as Record<string, unknown>[][];
}

const EXTREME: CgPutItemArgs = {
  signedBig: I64_MIN, amount: DEC_MAX, qty: -2147483648, small: 65535, tiny: -128, flag: true, maybe: false,
  ratio: 1.7976931348623157e308, createdAt: new Date('9999-12-31T23:59:59.999Z'), touchedAt: new Date('2038-01-19T03:14:07.000Z'),
  dueOn: new Date('1000-01-01T00:00:00.000Z'), atTime: '-838:59:59', payload: { 'ü': [1, '😀', null, { deep: true }], n: 1.5 },
  status: 'ünï', label: UNICODE, notes: `it's "quoted" \\ back\\slash \n newline; -- not a comment`, blobData: ALL_BYTES, code: Buffer.from([0, 0xff, 0, 1]),
};

const NULLS: CgPutItemArgs = {
  signedBig: null, amount: null, qty: 0, small: null, tiny: null, flag: false, maybe: null, ratio: null,
  createdAt: new Date('2024-02-29T12:00:00.000Z'), touchedAt: null, dueOn: null, atTime: null, payload: null, status: null,
  label: '', notes: null, blobData: null, code: null,
};

describe('codegen round trips', function () {
  this.timeout(60_000);
  const db = useThrowawayDatabase({ label: 'cg_roundtrip' });
  let conn: Connection;
  let raw: mysql.Connection;
  const ids: bigint[] = [];

  before(async () => {
    await loadFixtureProject(db.url);
    conn = await connect(db.url);
    raw = await rawConnection(db.url);
    for (const args of [EXTREME, NULLS, { ...EXTREME, signedBig: I64_MAX, amount: DEC_MIN, qty: 2147483647, tiny: 127, small: 0 }]) {
      const { out } = await cgPutItem(conn, args);
      ids.push(out.id!);
    }
    // BIGINT UNSIGNED max as a key, written by a raw statement.
    await raw.query("INSERT INTO cg_items (id, qty, flag, created_at, label) VALUES (18446744073709551615, 1, 1, '2024-01-01 00:00:00', 'max')");
    ids.push(U64_MAX);
  });

  after(async () => {
    await conn?.end();
    await raw?.end();
  });

  it('returns OUT values typed: the new id is a bigint', () => {
    expect(ids.slice(0, 3)).to.deep.equal([1n, 2n, 3n]);
  });

  it('reads back every mapped type as a raw CALL does, including NULLs and the extremes', async () => {
    for (const id of ids) {
      const { rows } = await cgGetItem(conn, { id });
      const [rawRows] = await rawCall(raw, 'CALL cg_get_item(?)', [id.toString()]);
      expectRowsSame(rows, rawRows, `cg_get_item(${id})`);
    }
  });

  it('keeps the values exactly: BIGINT min/max, DECIMAL(65,30), unicode, every byte, JSON', async () => {
    const [extreme] = (await cgGetItem(conn, { id: ids[0] })).rows;
    expect(extreme.signedBig).to.equal(I64_MIN);
    expect(extreme.amount).to.equal(DEC_MAX);
    expect(extreme.qty).to.equal(-2147483648);
    expect(extreme.label).to.equal(UNICODE);
    expect(extreme.status).to.equal('ünï');
    expect(extreme.blobData!.equals(ALL_BYTES)).to.equal(true);
    expect(extreme.payload).to.deep.equal(EXTREME.payload);
    expect(extreme.notes).to.equal(EXTREME.notes);
    expect(extreme.createdAt.toISOString()).to.equal('9999-12-31T23:59:59.999Z');
    expect(extreme.dueOn!.toISOString()).to.equal('1000-01-01T00:00:00.000Z');
    expect(extreme.flag).to.equal(true);
    expect(extreme.maybe).to.equal(false);
    const [third] = (await cgGetItem(conn, { id: ids[2] })).rows;
    expect(third.signedBig).to.equal(I64_MAX);
    expect(third.amount).to.equal(DEC_MIN);
    const [max] = (await cgGetItem(conn, { id: U64_MAX })).rows;
    expect(max.id).to.equal(U64_MAX);
    const [nulls] = (await cgGetItem(conn, { id: ids[1] })).rows;
    expect(nulls).to.include({ signedBig: null, amount: null, maybe: null, payload: null, notes: null, blobData: null, label: '', status: 'new' });
  });

  it('passes IN, INOUT and OUT parameters in order and reads OUT values back as a raw CALL does', async () => {
    const result = await cgParamModes(conn, { step: 1, counter: I64_MAX - 1n, doc: { keep: 'ü' } });
    await raw.query('SET @c = ?, @d = ?', [(I64_MAX - 1n).toString(), JSON.stringify({ keep: 'ü' })]);
    await raw.query('CALL cg_param_modes(1, @c, @d, @l, @s, @t)');
    const [[values]] = (await raw.query('SELECT @c AS counter, @d AS doc, @l AS label, @s AS status, @t AS seen_at')) as unknown as [Record<string, unknown>[]];
    expect(result.out.counter).to.equal(I64_MAX);
    for (const [column, value] of Object.entries(values)) {
      expectSame((result.out as unknown as Record<string, unknown>)[camelCase(column)], Buffer.isBuffer(value) ? value.toString() : value, `out.${column}`);
    }
    expect(result.out.label).to.equal(UNICODE);
    expect(result.out.status).to.equal('ünï');
    expect(result.out.seenAt!.toISOString()).to.equal('9999-12-31T23:59:59.999Z');
    expect(result.out.doc).to.have.property('keep', 'ü');
    const none = await cgParamModes(conn, { step: 999, counter: null, doc: null });
    expect(none.out).to.deep.include({ counter: null, label: null, status: null, seenAt: null });
  });

  it('returns every result set of a multi-set procedure as a raw CALL does', async () => {
    await raw.query("INSERT INTO cg_events (item_id, kind, note) VALUES (?, 'created', NULL), (?, 'sent', ?)", [ids[0].toString(), ids[0].toString(), UNICODE]);
    for (const id of [ids[0], ids[1]]) {
      const result = await cgItemEvents(conn, { id });
      const [item, events] = await rawCall(raw, 'CALL cg_item_events(?)', [id.toString()]);
      expectRowsSame(result.item, item, 'item');
      expectRowsSame(result.events, events, 'events');
    }
    const { item } = await cgItemEvents(conn, { id: ids[0] });
    expect(item[0].eventCount).to.equal(2n);
  });

  it('matches branch-dependent result sets to their declarations', async () => {
    const summary = await cgReport(conn, { mode: 'summary' });
    expect(summary).to.have.all.keys('summary');
    const [rawSummary] = await rawCall(raw, "CALL cg_report('summary')");
    expectRowsSame(summary.summary!, rawSummary, 'summary');
    const detail = await cgReport(conn, { mode: 'detail' });
    expect(detail).to.have.all.keys('detail');
    const [rawDetail] = await rawCall(raw, "CALL cg_report('detail')");
    expectRowsSame(detail.detail!, rawDetail, 'detail');
  });

  it('calls functions with SELECT and types their result', async () => {
    expect(await cgLabelOf(conn, { id: ids[0] })).to.equal(UNICODE);
    expect(await cgLabelOf(conn, { id: 424242 })).to.equal(null);
    const tagged = await cgTagDoc(conn, { doc: { tags: ['a'] }, tag: 'ü' });
    const [[rawTagged]] = (await raw.query('SELECT cg_tag_doc(?, ?) AS v', ['{"tags": ["a"]}', 'ü'])) as unknown as [{ v: string }[]];
    expect(tagged).to.deep.equal(JSON.parse(rawTagged.v));
    expect(tagged!.tags).to.deep.equal(['a', 'ü']);
  });

  it('turns SIGNAL SQLSTATE 45000 into a RoutineError with the routine, SQLSTATE and server message', async () => {
    expect((await cgCheckLabel(conn, { label: 'ok' })).rows).to.deep.equal([{ label: 'ok' }]);
    const err = await cgCheckLabel(conn, { label: '' }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(RoutineError);
    expect(err).to.include({ routine: 'cg_check_label', sqlState: '45000', serverMessage: 'cg_check_label: label must not be empty', errno: 1644 });
    expect((err as Error).message).to.equal('cg_check_label: cg_check_label: label must not be empty');
  });

  it('leaves server and connection errors as they are (not RoutineError)', async () => {
    const other = await connect(db.url);
    await other.query('DROP PROCEDURE cg_now_items');
    const missing = await cgNowItems(other).then(() => null, (e: unknown) => e);
    expect(missing).not.to.be.instanceOf(RoutineError);
    expect(missing).to.have.property('code', 'ER_SP_DOES_NOT_EXIST');
    await runFixtureFile(other, path.join(FIXTURE_PROJECT, 'procedures', 'cg_now_items.sql'));
    await other.end();
    const closed = await cgNowItems(other).then(() => null, (e: unknown) => e);
    expect(closed).to.be.instanceOf(Error);
    expect(closed).not.to.be.instanceOf(RoutineError);
  });

  it('refuses a zero date instead of returning an Invalid Date', async () => {
    const other = await connect(db.url);
    try {
      await other.query("SET SESSION sql_mode = ''");
      await other.query("INSERT INTO cg_items (id, qty, flag, created_at, due_on, label) VALUES (900, 1, 1, '2024-01-01', '0000-00-00', 'zero')");
    } finally {
      await other.end();
    }
    const err = await cgGetItem(conn, { id: 900 }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(ValueReadError);
    expect((err as Error).message).to.match(/cg_get_item: due_on: zero date "0000-00-00"/);
    await raw.query('DELETE FROM cg_items WHERE id = 900');
  });

  it('returns the same values whatever the caller\'s mysql2 options, on a connection or a pool', async () => {
    const awkward = await awkwardConnection(db.url);
    const u = parseUrl(db.url);
    const pool = mysql.createPool({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database!, connectionLimit: 2, dateStrings: true, decimalNumbers: true });
    try {
      await pool.query("SET time_zone = '+00:00'");
      for (const id of ids) {
        const expected = await cgGetItem(conn, { id });
        expect(await cgGetItem(awkward, { id }), `awkward ${id}`).to.deep.equal(expected);
      }
      const args = { step: 3, counter: 5n, doc: [1, 2] };
      const expected = await cgParamModes(conn, args);
      expect(await cgParamModes(awkward, args)).to.deep.equal(expected);
      expect((await cgParamModes(pool, args)).out.counter).to.equal(8n);
      expect(await cgItemEvents(pool, { id: ids[0] })).to.deep.equal(await cgItemEvents(conn, { id: ids[0] }));
      expect(await cgLabelOf(awkward, { id: ids[0] })).to.equal(UNICODE);
    } finally {
      await awkward.end();
      await pool.end();
    }
  });

  it('refuses arguments of the wrong type before calling (for JavaScript callers)', async () => {
    const call = (args: unknown) => cgGetItem(conn, args as { id: bigint }).then(() => null, (e: unknown) => e);
    expect(await call({ id: '1' })).to.be.instanceOf(ArgumentError);
    expect(await call({ id: 2 ** 60 })).to.be.instanceOf(ArgumentError);
    expect(await call({})).to.be.instanceOf(ArgumentError).with.property('message', 'cg_get_item: id: missing (pass null for SQL NULL)');
  });

  it('returns the rows of an untyped procedure decoded from the field metadata', async () => {
    const { sets } = await cgUntyped(conn, { limit: 1 });
    expect(sets).to.deep.equal([[{ id: 1n, label: UNICODE }]]);
  });

  it('exposes whether a routine only reads, for routing to a replica', () => {
    expect(cgGetItem.readOnly).to.equal(true);
    expect(cgPutItem.readOnly).to.equal(false);
    expect(cgPutItem.sqlDataAccess).to.equal('MODIFIES SQL DATA');
    expect(cgLabelOf.routine).to.equal('cg_label_of');
  });

  it('throws BindingShapeError when the routine no longer returns what the binding was generated for', async () => {
    await conn.query('DROP PROCEDURE cg_now_items');
    await conn.query('CREATE PROCEDURE cg_now_items() READS SQL DATA SELECT id, label, qty FROM cg_items');
    const err = await cgNowItems(conn).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(BindingShapeError);
    expect((err as Error).message).to.match(/result set 1 has columns \(id, label, qty\), the binding expects \(id, label\)/);
  });
});
