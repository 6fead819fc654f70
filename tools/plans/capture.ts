// Plan capture: every statement a routine call actually runs — nested routines and dynamic SQL
// (PREPARE/EXECUTE) included — with the values it ran with, so that each can be EXPLAINed.
//
// What the servers offer (verified on MariaDB 10.11 and MySQL 9.7; see tools/plans/README.md):
//   * performance_schema.events_statements_history_long nests on both (NESTING_EVENT_ID, with
//     OBJECT_NAME = the routine), but shows routine variables by name, never their values; for
//     dynamic SQL, MySQL shows the prepared text with its ? placeholders and MariaDB only
//     "EXECUTE stmt USING @a" — neither is a statement one can EXPLAIN.
//   * MariaDB: the slow log writes every stored-program statement when the session sets
//     log_slow_disabled_statements='' and long_query_time=0, with "# Stored_routine: db.name",
//     routine variables as NAME_CONST('v', value) and EXECUTE as the expanded statement.
//     Slow logging is switched on at server start (a private server) and read from its file.
//   * MySQL: the slow log shows only the CALL; the session's optimizer trace has every
//     sub-statement, EXECUTE expanded with its values, and variables as NAME_CONST while binary
//     logging is in statement mode (binlog_format=MIXED in the capture session, until the first
//     row-logged statement of the call — READ COMMITTED switches to row). performance_schema says
//     which routine ran each statement and with which CALL arguments; IN parameters are followed
//     through nested CALLs. A local variable whose value neither shows is reported as unknown.
import fs from 'fs';
import { OperationError } from '../errors';
import { Connection, queryRows } from '../sql/connection';
import { ServerInfo } from '../sql/flavour';
import {
  callArguments, explainableKind, fingerprint, fingerprintsMatch, hasPlaceholder, StatementKind, stripInto, substituteVariables, tokenize,
  variableAffectsPlan,
} from './sqltext';

export interface CapturedStatement {
  /** The routine whose body holds the statement (for dynamic SQL: the routine that ran EXECUTE). */
  routine: string;
  kind: StatementKind;
  /** Same for every execution of the statement, on both servers. */
  fingerprint: string;
  /** The statement as captured. */
  text: string;
  /** What to EXPLAIN: values in, INTO targets out; null when the values are not known. */
  explainSql: string | null;
  /** Why explainSql is null. */
  unexplained?: string;
}

// ---- MariaDB: the slow log ---------------------------------------------------------------------

export interface SlowLogEntry {
  threadId: number;
  /** Routine name (without database) from "# Stored_routine:", null for a top-level statement. */
  routine: string | null;
  text: string;
}

/** Parses MariaDB slow log text (FILE format) into entries, in order. */
export function parseSlowLog(text: string): SlowLogEntry[] {
  const entries: SlowLogEntry[] = [];
  const lines = text.split('\n');
  let current: { threadId: number; routine: string | null; body: string[] } | null = null;
  const finish = () => {
    if (!current) return;
    const body = current.body.filter((l) => !/^use [^;]*;$/.test(l) && !/^SET timestamp=\d+;$/.test(l));
    const sql = body.join('\n').trim().replace(/;$/, '');
    if (sql) entries.push({ threadId: current.threadId, routine: current.routine, text: sql });
    current = null;
  };
  for (const line of lines) {
    if (line.startsWith('# Time:')) {
      finish();
      continue;
    }
    if (line.startsWith('# User@Host:')) {
      finish();
      current = { threadId: -1, routine: null, body: [] };
      continue;
    }
    if (!current) continue;
    if (current.body.length === 0 && line.startsWith('# ')) {
      const thread = /Thread_id:\s*(\d+)/.exec(line);
      if (thread) current.threadId = Number(thread[1]);
      const routine = /^# Stored_routine:\s*(\S+)/.exec(line);
      if (routine) current.routine = routine[1].includes('.') ? routine[1].slice(routine[1].indexOf('.') + 1) : routine[1];
      continue;
    }
    current.body.push(line);
  }
  finish();
  return entries;
}

/**
 * The statements of one top-level call, from its slow log entries (the call's own entry last).
 * MariaDB logs an EXECUTE twice (the prepared statement, then the EXECUTE instruction): consecutive
 * equal entries count once.
 */
export function statementsFromSlowLog(entries: SlowLogEntry[]): CapturedStatement[] {
  const out: CapturedStatement[] = [];
  let previous: SlowLogEntry | null = null;
  for (const e of entries) {
    if (previous && previous.routine === e.routine && previous.text === e.text) continue;
    previous = e;
    if (!e.routine) continue;
    const kind = explainableKind(e.text);
    if (!kind || hasPlaceholder(e.text)) continue;
    out.push({ routine: e.routine, kind, fingerprint: fingerprint(e.text), text: e.text, explainSql: stripInto(e.text) });
  }
  return out;
}

// ---- MySQL: optimizer trace + performance_schema --------------------------------------------

export interface StatementEvent {
  eventId: number;
  endEventId: number | null;
  name: string;
  nestingEventId: number | null;
  /** OBJECT_NAME: the routine running the statement (null for the top-level CALL). */
  routine: string | null;
  text: string;
}

export interface RoutineSignature {
  /** Parameters in order, lower case, with their mode. */
  params: { name: string; mode: string }[];
  /** Parameters and DECLAREd locals, lower case. */
  variables: Set<string>;
}

/** The local variables a routine body DECLAREs (not conditions, cursors or handlers). */
export function declaredVariables(body: string): string[] {
  const tokens = tokenize(body);
  const names: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].kind !== 'word' || !/^declare$/i.test(tokens[i].text)) continue;
    const list: string[] = [];
    let j = i + 1;
    while (tokens[j] && (tokens[j].kind === 'word' || tokens[j].kind === 'quoted')) {
      list.push(tokens[j].text.replace(/`/g, '').toLowerCase());
      if (tokens[j + 1]?.text !== ',') break;
      j += 2;
    }
    const next = tokens[j + 1]?.text.toUpperCase();
    if (!list.length || /^(CONTINUE|EXIT|UNDO)$/i.test(list[0]) || next === 'CONDITION' || next === 'CURSOR' || next === 'HANDLER') continue;
    names.push(...list);
  }
  return names;
}

interface Frame {
  routine: string;
  /** Known values of the routine's IN parameters (SQL text). */
  values: Map<string, string>;
}

/**
 * Matches trace entries (each statement as it ran) to performance_schema events (which routine ran
 * it, under which CALL), in order, by fingerprint, and works out the values of parameters.
 * `events` are the call's events in EVENT_ID order, the top-level CALL first.
 */
export function alignTrace(traceQueries: string[], events: StatementEvent[], signatures: Map<string, RoutineSignature>,
  truncatedAt: number): CapturedStatement[] {
  const frames = new Map<number, Frame>();
  const frameOf = (callEvent: StatementEvent): Frame | null => {
    const known = frames.get(callEvent.eventId);
    if (known) return known;
    const call = callArguments(callEvent.text);
    if (!call) return null;
    const sig = signatures.get(call.routine.toLowerCase());
    const values = new Map<string, string>();
    const callerCall = callEvent.routine ? enclosingCall(callEvent) : undefined;
    const caller = callerCall ? frameOf(callerCall) : null;
    sig?.params.forEach((p, n) => {
      const arg = call.args[n];
      if (arg === undefined || p.mode === 'OUT') return;
      const value = valueIn(arg, caller, signatures);
      if (value !== null) values.set(p.name, value);
    });
    const frame = { routine: call.routine, values };
    frames.set(callEvent.eventId, frame);
    return frame;
  };

  // A statement runs in the innermost CALL whose events enclose it and that called its routine
  // (its NESTING_EVENT_ID may be a transaction event instead: statements inside START TRANSACTION).
  const calls = events.filter((e) => e.name === 'statement/sql/call_procedure' || (e.name === 'statement/sp/stmt' && /^\s*call\b/i.test(e.text)));
  const enclosingCall = (event: StatementEvent): StatementEvent | undefined => {
    let best: StatementEvent | undefined;
    for (const c of calls) {
      const end = c.endEventId ?? Number.MAX_SAFE_INTEGER;
      if (c.eventId < event.eventId && event.eventId <= end && callArguments(c.text)?.routine.toLowerCase() === event.routine?.toLowerCase()) {
        if (!best || c.eventId > best.eventId) best = c;
      }
    }
    return best;
  };
  const candidates = events
    .filter((e) => e.routine && e.name === 'statement/sp/stmt' && explainableKind(e.text))
    .map((e) => ({ event: e, fingerprint: fingerprint(e.text), truncated: e.text.length >= truncatedAt - 4 }));
  const out: CapturedStatement[] = [];
  let from = 0;
  let previous: string | null = null;
  for (const query of traceQueries) {
    const kind = explainableKind(query);
    // A text with placeholders is a PREPARE; the EXECUTE that follows carries the values.
    if (!kind || hasPlaceholder(query)) continue;
    if (query === previous) continue;
    previous = query;
    const fp = fingerprint(query);
    let k = from;
    while (k < candidates.length && !fingerprintsMatch(candidates[k].fingerprint, fp, candidates[k].truncated)) k++;
    if (k === candidates.length) {
      // Not a statement of a routine (e.g. the trace of a statement run by a trigger): skip it.
      continue;
    }
    from = k + 1;
    const event = candidates[k].event;
    const routine = event.routine!;
    const callEvent = enclosingCall(event);
    const frame = callEvent ? frameOf(callEvent) : null;
    const sig = signatures.get(routine.toLowerCase());
    let explainSql: string | null = stripInto(query);
    let unexplained: string | undefined;
    if (sig) {
      const substituted = substituteVariables(explainSql, sig.variables, frame ? frame.values : new Map());
      const blocking = substituted.unknown.filter((v) => variableAffectsPlan(explainSql!, v));
      if (blocking.length) {
        const why = frame ? 'here (its binary log went to row format: READ COMMITTED or an unsafe statement)' : 'inside a stored function (its arguments are not logged)';
        unexplained = `MySQL does not show the value of ${blocking.join(', ')} ${why}; the MariaDB leg explains this statement`;
        explainSql = null;
      } else {
        // What is left unknown only fills select lists, SET or VALUES: any value gives the same plan.
        const filled = new Map(frame ? frame.values : []);
        for (const v of substituted.unknown) filled.set(v, 'NULL');
        explainSql = substituteVariables(explainSql, sig.variables, filled).sql;
      }
    }
    out.push({ routine, kind, fingerprint: fp, text: query, explainSql, ...(unexplained ? { unexplained } : {}) });
  }
  return out;
}

/** An argument's value in the caller's frame: a literal stays, a known parameter is replaced, anything unknown is null. */
function valueIn(arg: string, caller: Frame | null, signatures: Map<string, RoutineSignature>): string | null {
  const sig = caller ? signatures.get(caller.routine.toLowerCase()) : undefined;
  if (!sig || !caller) {
    // Top-level CALL: arguments are literals (or expressions of literals).
    return arg;
  }
  const { sql, unknown } = substituteVariables(arg, sig.variables, caller.values);
  return unknown.length ? null : sql;
}

// ---- Sessions -------------------------------------------------------------------------------

export interface CaptureSession {
  /** Runs one CALL (result sets are read and dropped) and returns the statements it ran. */
  capture(callSql: string): Promise<CapturedStatement[]>;
}

export interface CaptureOptions {
  /** MariaDB: the slow log file the server writes (a private server started with --slow-query-log-file). */
  slowLogFile?: string;
}

/** Prepares `conn` (a connection to the capture database, used for nothing else) for capture. */
export async function openCapture(conn: Connection, server: ServerInfo, options: CaptureOptions = {}): Promise<CaptureSession> {
  return server.statementCapture === 'slow-log' ? openSlowLogCapture(conn, options) : openTraceCapture(conn);
}

async function connectionId(conn: Connection): Promise<number> {
  const [row] = await queryRows<{ id: number }>(conn, 'SELECT CONNECTION_ID() AS id');
  return Number(row.id);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openSlowLogCapture(conn: Connection, options: CaptureOptions): Promise<CaptureSession> {
  const [vars] = await queryRows<{ slow: number; output: string; file: string }>(conn,
    'SELECT @@global.slow_query_log AS slow, @@global.log_output AS output, @@global.slow_query_log_file AS file');
  const file = options.slowLogFile;
  if (!file) throw new OperationError('plan capture on MariaDB reads the slow log file of a private server: none was given');
  if (Number(vars.slow) !== 1 || !/FILE/i.test(vars.output)) {
    throw new OperationError(`plan capture on MariaDB needs the slow log written to a file (slow_query_log=${vars.slow}, log_output=${vars.output})`);
  }
  // Every statement of this session, stored programs included; nothing filtered out.
  await conn.query(`SET SESSION long_query_time = 0, log_slow_disabled_statements = '', log_slow_min_examined_row_limit = 0,
    log_slow_filter = 'admin,filesort,filesort_on_disk,filesort_priority_queue,full_join,full_scan,not_using_index,query_cache,query_cache_miss,tmp_table,tmp_table_on_disk'`);
  const id = await connectionId(conn);
  let offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
  return {
    async capture(callSql: string) {
      await conn.query(callSql);
      // The CALL's own entry is written last, once everything inside it was.
      const deadline = Date.now() + 5_000;
      for (;;) {
        const size = fs.statSync(file).size;
        const text = readRange(file, offset, size);
        const entries = parseSlowLog(text).filter((e) => e.threadId === id);
        const callIndex = entries.findIndex((e) => e.routine === null && e.text === callSql.trim().replace(/;$/, ''));
        if (callIndex >= 0) {
          offset = size;
          return statementsFromSlowLog(entries.slice(0, callIndex + 1));
        }
        if (Date.now() > deadline) throw new OperationError(`the slow log ${file} never showed the call ${callSql}`);
        await sleep(20);
      }
    },
  };
}

function readRange(file: string, from: number, to: number): string {
  if (to <= from) return '';
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    fs.readSync(fd, buffer, 0, buffer.length, from);
    return buffer.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

async function openTraceCapture(conn: Connection): Promise<CaptureSession> {
  const [ps] = await queryRows<{ on: number; maxText: number; logBin: number }>(conn,
    'SELECT @@global.performance_schema AS `on`, @@global.performance_schema_max_sql_text_length AS maxText, @@global.log_bin AS logBin');
  if (Number(ps.on) !== 1) {
    throw new OperationError('plan capture on MySQL needs performance_schema (start the server with --performance-schema=ON, the default)');
  }
  const [thread] = await queryRows<{ id: number; instrumented: string }>(conn,
    'SELECT THREAD_ID AS id, INSTRUMENTED AS instrumented FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID()');
  if (thread.instrumented !== 'YES') {
    await conn.query("UPDATE performance_schema.threads SET INSTRUMENTED = 'YES' WHERE THREAD_ID = ?", [thread.id]);
  }
  const [consumer] = await queryRows<{ enabled: string }>(conn,
    "SELECT ENABLED AS enabled FROM performance_schema.setup_consumers WHERE NAME = 'events_statements_history_long'");
  if (consumer.enabled !== 'YES') {
    // Runtime-settable on MySQL; it stays on (statement history is cheap, and on by default in CI's server).
    await conn.query("UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME IN ('events_statements_current', 'events_statements_history_long')");
  }
  const [instrument] = await queryRows<{ enabled: string }>(conn,
    "SELECT ENABLED AS enabled FROM performance_schema.setup_instruments WHERE NAME = 'statement/sp/stmt'");
  if (instrument?.enabled !== 'YES') {
    throw new OperationError('plan capture on MySQL needs the performance_schema instrument statement/sp/stmt enabled');
  }
  if (Number(ps.logBin) === 1) {
    // Variables are logged as NAME_CONST(...) only for statement-based logging.
    await conn.query("SET SESSION binlog_format = 'MIXED'").catch(() => undefined);
  }
  const database = (await queryRows<{ db: string }>(conn, 'SELECT DATABASE() AS db'))[0].db;
  const signatures = await readSignatures(conn, database);
  const enable = "SET SESSION optimizer_trace = 'enabled=on', optimizer_trace_limit = 100000, optimizer_trace_offset = -100000, optimizer_trace_max_mem_size = 1073741824";
  return {
    async capture(callSql: string) {
      await conn.query(enable);
      try {
        await conn.query(callSql);
      } finally {
        await conn.query("SET SESSION optimizer_trace = 'enabled=off'");
      }
      const traces = await queryRows<{ QUERY: string }>(conn, 'SELECT QUERY FROM information_schema.OPTIMIZER_TRACE');
      const queries = traces.map((t) => String(t.QUERY));
      const start = queries.lastIndexOf(callSql.trim());
      const events = await callEvents(conn, thread.id, callSql.trim());
      return alignTrace(queries.slice(start + 1), events, signatures, Number(ps.maxText));
    },
  };
}

/** The top-level CALL's statement events, read right after it; fails when the history lost some. */
async function callEvents(conn: Connection, threadId: number, callSql: string): Promise<StatementEvent[]> {
  const rows = await queryRows<{ EVENT_ID: number; END_EVENT_ID: number | null; EVENT_NAME: string; NESTING_EVENT_ID: number | null;
    OBJECT_NAME: string | null; SQL_TEXT: string | null; TIMER_START: string }>(conn,
    `SELECT EVENT_ID, END_EVENT_ID, EVENT_NAME, NESTING_EVENT_ID, OBJECT_NAME, SQL_TEXT, TIMER_START
       FROM performance_schema.events_statements_history_long WHERE THREAD_ID = ? ORDER BY EVENT_ID`, [threadId]);
  // SQL_TEXT is cut at performance_schema_max_sql_text_length (1024 by default): a long CALL matches by its prefix.
  const sameCall = (text: string | null) => {
    const t = (text ?? '').trim();
    return t === callSql || (t.length >= 64 && callSql.startsWith(t.replace(/\.\.\.$/, '')));
  };
  const call = [...rows].reverse().find((r) => r.EVENT_NAME === 'statement/sql/call_procedure' && r.NESTING_EVENT_ID === null && sameCall(r.SQL_TEXT));
  if (!call) {
    throw new OperationError('performance_schema.events_statements_history_long no longer holds the call: other sessions filled it meanwhile; '
      + 'retry, or start the server with a larger performance_schema_events_statements_history_long_size');
  }
  // The history is a ring: if its oldest entry is younger than the call, some of the call's statements are gone.
  const [oldest] = await queryRows<{ t: string | null; n: number; size: number }>(conn,
    'SELECT MIN(TIMER_END) AS t, COUNT(*) AS n, @@global.performance_schema_events_statements_history_long_size AS size FROM performance_schema.events_statements_history_long');
  if (Number(oldest.n) >= Number(oldest.size) && BigInt(oldest.t ?? '0') > BigInt(call.TIMER_START)) {
    throw new OperationError('performance_schema.events_statements_history_long wrapped during the call (other sessions were busy): retry, '
      + 'or start the server with a larger performance_schema_events_statements_history_long_size');
  }
  const last = call.END_EVENT_ID ?? Number.MAX_SAFE_INTEGER;
  return rows.filter((r) => r.EVENT_ID >= call.EVENT_ID && r.EVENT_ID <= last).map((r) => ({
    eventId: Number(r.EVENT_ID), endEventId: r.END_EVENT_ID === null ? null : Number(r.END_EVENT_ID), name: r.EVENT_NAME,
    nestingEventId: r.NESTING_EVENT_ID === null ? null : Number(r.NESTING_EVENT_ID), routine: r.OBJECT_NAME,
    // The top-level CALL's arguments are read from the text sent, never from a cut-off copy.
    text: r === call ? callSql : r.SQL_TEXT ?? '',
  }));
}

export async function readSignatures(conn: Connection, database: string): Promise<Map<string, RoutineSignature>> {
  const routines = await queryRows<{ name: string; body: string | null }>(conn,
    'SELECT ROUTINE_NAME AS name, ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?', [database]);
  const params = await queryRows<{ routine: string; name: string | null; mode: string | null }>(conn,
    `SELECT SPECIFIC_NAME AS routine, PARAMETER_NAME AS name, PARAMETER_MODE AS mode FROM information_schema.PARAMETERS
      WHERE SPECIFIC_SCHEMA = ? AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ORDINAL_POSITION`, [database]);
  const out = new Map<string, RoutineSignature>();
  for (const r of routines) {
    const own = params.filter((p) => p.routine === r.name && p.name).map((p) => ({ name: p.name!.toLowerCase(), mode: (p.mode ?? 'IN').toUpperCase() }));
    out.set(r.name.toLowerCase(), { params: own, variables: new Set([...own.map((p) => p.name), ...declaredVariables(r.body ?? '')]) });
  }
  return out;
}
