// Bulk load: N messages into a campaign set by each method a team could use, each into a fresh
// set, against the ceiling: a raw LOAD DATA LOCAL INFILE of the same file by the server's own
// command-line client.
//
// What each figure covers:
//   single-row INSERT     one INSERT per row, a sample of the rows, one transaction
//   multi-row INSERT n    rows made up in memory beforehand, n per statement, one transaction
//   toolkit bulk loader   loadMessages() on the CSV file: reading, validating every row, and
//                         streaming by LOAD DATA LOCAL INFILE (or INSERT batches where the server
//                         refuses local infile), one transaction
//   knex batchInsert      knex's batchInsert (chunks of 1,000) in a knex transaction, rows made up
//                         in memory: what a Node team would otherwise write
//   ceiling               `mysql|mariadb --local-infile=1 -e "LOAD DATA LOCAL INFILE ..."` of the
//                         same CSV file, timed as a whole process (start-up included, ~10 ms)
// The ceiling and the loader, the pair the target compares, run interleaved `repeats` times and
// report their best run; the others run once.
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { loadMessages } from '../pipeline/loader';
import { findClient } from '../sql/client';
import { parseUrl, queryRows, quoteIdentifier, withConnection } from '../sql/connection';
import { startProgress } from '../progress';
import { BenchContext, countRows, elapsed, fmtInt, freshCampaign, MESSAGE_COLUMNS, messageAt, MessageRow, now } from './context';
import { LoadResult, LoadSection, rate } from './types';

export interface LoadOptions {
  rows: number;
  sampleRows: number;
  repeats: number;
  /** Switch a server's local_infile ON for this section (and back afterwards) to measure the ceiling. */
  enableLocalInfile: boolean;
  /** Registers an undo step that must run even when the run is interrupted. */
  onUndo(label: string, fn: () => Promise<unknown>): () => void;
}

function csvField(value: string | number | null): string {
  if (value === null) return '';
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function writeCsv(file: string, rows: MessageRow[]): number {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, 'contact_id,method,packet,send_after,subject,body\n');
    let chunk = '';
    for (const r of rows) {
      chunk += [r[0], 'email', r[2], r[3], r[4], r[5]].map(csvField).join(',') + '\n';
      if (chunk.length > 1 << 20) {
        fs.writeSync(fd, chunk);
        chunk = '';
      }
    }
    fs.writeSync(fd, chunk);
  } finally {
    fs.closeSync(fd);
  }
  return fs.statSync(file).size;
}

function sqlString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The ceiling: the client loads the file itself; the process's wall time is the measurement. */
async function clientLoad(ctx: BenchContext, client: string, file: string, table: string): Promise<number> {
  const u = parseUrl(ctx.url);
  const methodCase = `CASE @method ${[...ctx.methods].map(([code, id]) => `WHEN ${sqlString(code)} THEN ${id}`).join(' ')} END`;
  const sql = `LOAD DATA LOCAL INFILE ${sqlString(file)} INTO TABLE ${quoteIdentifier(table)} CHARACTER SET utf8mb4 ` +
    `FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n' IGNORE 1 LINES ` +
    `(contact_id, @method, packet, @send_after, subject, body) SET method_id = ${methodCase}, send_after = NULLIF(@send_after, '')`;
  const args = [
    ...(u.socketPath ? [`--socket=${u.socketPath}`] : ['--protocol=TCP', `--host=${u.host}`, `--port=${u.port}`]),
    `--user=${u.user}`, '--local-infile=1', '--default-character-set=utf8mb4', `--database=${ctx.database}`, '-e', sql,
  ];
  const t0 = now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(client, args, { env: { ...process.env, MYSQL_PWD: u.password }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${client} exited with ${code}: ${stderr.trim().split('\n').slice(-2).join(' / ')}`))));
  });
  return elapsed(t0);
}

async function loadKnex(ctx: BenchContext, table: string, rows: MessageRow[]): Promise<number> {
  // knex is a devDependency (the peer row only): loaded here so the toolkit runs without it.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { knex } = require('knex') as typeof import('knex');
  const u = parseUrl(ctx.url);
  const db = knex({
    client: 'mysql2',
    connection: { host: u.host, port: u.port, user: u.user, password: u.password, database: ctx.database, socketPath: u.socketPath, timezone: 'Z', charset: 'utf8mb4_unicode_ci' },
    pool: { min: 0, max: 1 },
  });
  try {
    const objects = rows.map((r) => Object.fromEntries(MESSAGE_COLUMNS.map((c, i) => [c, r[i]])));
    const t0 = now();
    await db.transaction(async (trx) => {
      await db.batchInsert(table, objects, 1000).transacting(trx);
    });
    return elapsed(t0);
  } finally {
    await db.destroy();
  }
}

function knexAvailable(): boolean {
  try {
    require.resolve('knex');
    return true;
  } catch {
    return false;
  }
}

export async function runLoadSection(ctx: BenchContext, options: LoadOptions): Promise<LoadSection> {
  const rows = Array.from({ length: options.rows }, (_, i) => messageAt(i, ctx.contactIds, ctx.methods.get('email')!));
  const file = path.join(ctx.workDir, 'messages.csv');
  const bytes = writeCsv(file, rows);
  ctx.log(`load: ${fmtInt(rows.length)} messages, ${(bytes / 1048576).toFixed(1)} MB of CSV`);
  const results: LoadResult[] = [];
  const section: LoadSection = {
    rows: rows.length, sampleRows: Math.min(options.sampleRows, rows.length), file: { format: 'csv', bytes },
    ceiling: { measured: false, client: null, clientVersion: null, note: '' },
    localInfile: { before: ctx.server.localInfile, during: ctx.server.localInfile, changedByBench: false },
    results,
  };

  // local_infile: measured as the server is, unless asked to switch it on for this section.
  let undoInfile: (() => void) | null = null;
  if (!ctx.server.localInfile && options.enableLocalInfile) {
    try {
      await ctx.conn.query('SET GLOBAL local_infile = 1');
      section.localInfile = { before: false, during: true, changedByBench: true };
      // A fresh connection: the undo may run from Ctrl-C while ctx.conn is busy.
      undoInfile = options.onUndo('switch local_infile OFF again', () =>
        withConnection(ctx.serverUrl, async (c) => { await c.query('SET GLOBAL local_infile = 0'); }, { database: null }));
      ctx.log('load: local_infile switched ON for this section (--enable-local-infile); it is switched OFF again afterwards');
    } catch (err) {
      ctx.log(`load: could not switch local_infile ON: ${(err as Error).message}`);
    }
  }
  const localInfile = section.localInfile.during;

  /** Runs one method into a fresh set and checks the table holds exactly the rows expected. */
  async function measure(method: string, label: string, expected: number, fn: (table: string, campaignId: number) => Promise<{ seconds: number; note?: string }>): Promise<LoadResult> {
    if (ctx.stopping()) throw new Error('interrupted');
    const { campaignId, messages } = await freshCampaign(ctx, method);
    let result: LoadResult;
    try {
      const { seconds, note } = await fn(messages, campaignId);
      const loaded = await countRows(ctx.conn, messages);
      result = loaded === expected
        ? { method, label, status: 'ok', units: expected, unit: 'rows', seconds, perSecond: rate(expected, seconds), ratioToCeiling: null, note }
        : { method, label, status: 'failed', units: loaded, unit: 'rows', seconds, perSecond: null, ratioToCeiling: null, note: `loaded ${loaded} rows, expected ${expected}` };
    } catch (err) {
      result = { method, label, status: 'failed', units: 0, unit: 'rows', seconds: 0, perSecond: null, ratioToCeiling: null, note: (err as Error).message.split('\n')[0] };
    }
    // The set's tables go at once: their dirty pages would otherwise be flushed during the next method.
    await ctx.conn.query('CALL campaign_set_drop(?)', [campaignId]).catch(() => undefined);
    ctx.log(`load: ${label}: ${result.status === 'ok' ? `${fmtInt(result.perSecond)} rows/s (${result.seconds.toFixed(2)} s)` : `${result.status}: ${result.note}`}`);
    return result;
  }

  /** Best of several runs of one method (the pair the target compares runs interleaved). */
  function best(runs: LoadResult[]): LoadResult {
    const ok = runs.filter((r) => r.status === 'ok');
    if (!ok.length) return runs[runs.length - 1];
    const top = ok.reduce((a, b) => ((b.perSecond ?? 0) > (a.perSecond ?? 0) ? b : a));
    return runs.length > 1 ? { ...top, runs: ok.map((r) => r.perSecond ?? 0) } : top;
  }

  async function inserts(table: string, data: MessageRow[], perStatement: number, label: string): Promise<number> {
    const progress = startProgress({ label: `load: ${label}`, total: data.length, unit: 'rows', mode: ctx.progress });
    const cols = MESSAGE_COLUMNS.join(', ');
    const t0 = now();
    await ctx.conn.query('START TRANSACTION');
    try {
      if (perStatement === 1) {
        const sql = `INSERT INTO ${quoteIdentifier(table)} (${cols}) VALUES (?, ?, ?, ?, ?, ?)`;
        for (let i = 0; i < data.length; i++) {
          await ctx.conn.query(sql, data[i]);
          if (i % 500 === 499) progress.advance(500);
        }
      } else {
        for (let i = 0; i < data.length; i += perStatement) {
          const batch = data.slice(i, i + perStatement);
          await ctx.conn.query(`INSERT INTO ${quoteIdentifier(table)} (${cols}) VALUES ?`, [batch]);
          progress.advance(batch.length);
        }
      }
      await ctx.conn.query('COMMIT');
    } catch (err) {
      await ctx.conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    const seconds = elapsed(t0);
    progress.finish();
    return seconds;
  }

  try {
    const sample = rows.slice(0, section.sampleRows);
    results.push(await measure('single-row-insert', `single-row INSERT, one transaction (sample of ${fmtInt(sample.length)})`, sample.length,
      async (table) => ({ seconds: await inserts(table, sample, 1, 'single-row INSERT') })));
    for (const n of [100, 1000, 5000]) {
      results.push(await measure(`multi-row-insert-${n}`, `multi-row INSERT of ${fmtInt(n)}, one transaction`, rows.length,
        async (table) => ({ seconds: await inserts(table, rows, n, `multi-row INSERT of ${n}`) })));
    }

    // The pair the target compares, interleaved.
    const client = findClient(ctx.server);
    if ('error' in client) {
      section.ceiling.note = `not measured: ${client.error}`;
    } else if (!localInfile) {
      section.ceiling = { measured: false, client: client.command, clientVersion: client.version,
        note: 'not measured: the server has local_infile=OFF, so no client may LOAD DATA LOCAL INFILE (rerun with --enable-local-infile to switch it ON for this section only; it is restored afterwards)' };
    } else {
      section.ceiling = { measured: true, client: client.command, clientVersion: client.version,
        note: `${client.command} --local-infile=1 -e "LOAD DATA LOCAL INFILE ..." of the same CSV file, wall time of the client process` };
    }
    const ceilingRuns: LoadResult[] = [];
    const loaderRuns: LoadResult[] = [];
    let loaderPath = '';
    for (let r = 0; r < Math.max(1, options.repeats); r++) {
      if (section.ceiling.measured && !('error' in client)) {
        ceilingRuns.push(await measure('ceiling', `ceiling: raw LOAD DATA by the ${client.command} client`, rows.length,
          async (table) => ({ seconds: await clientLoad(ctx, client.command, file, table) })));
      }
      loaderRuns.push(await measure('loader', 'toolkit bulk loader (loadMessages)', rows.length, async (_table, campaignId) => {
        const out = await loadMessages({ url: ctx.url, campaignId, file, packet: 1, progress: ctx.progress, log: () => undefined });
        loaderPath = out.path;
        return { seconds: out.seconds, note: `${out.path === 'load-data' ? 'LOAD DATA LOCAL INFILE' : 'multi-row INSERT batches of 1,000'}: ${out.pathReason}; includes reading and validating the file` };
      }));
    }
    const ceiling = ceilingRuns.length ? best(ceilingRuns) : null;
    const loader = best(loaderRuns);
    if (loaderPath === 'insert') loader.label = 'toolkit bulk loader (INSERT fallback)';
    results.push(loader);
    if (loaderPath === 'load-data') {
      results.push(await measure('loader-insert-path', 'toolkit bulk loader, INSERT path forced', rows.length, async (_table, campaignId) => {
        const out = await loadMessages({ url: ctx.url, campaignId, file, packet: 1, path: 'insert', progress: ctx.progress, log: () => undefined });
        return { seconds: out.seconds, note: 'the fallback a server with local_infile=OFF gets; includes reading and validating the file' };
      }));
    }
    if (knexAvailable()) {
      results.push(await measure('knex-batch-insert', 'knex batchInsert (chunks of 1,000), one transaction', rows.length,
        async (table) => ({ seconds: await loadKnex(ctx, table, rows) })));
    } else {
      results.push({ method: 'knex-batch-insert', label: 'knex batchInsert', status: 'skipped', units: 0, unit: 'rows', seconds: 0, perSecond: null, ratioToCeiling: null,
        note: 'knex is not installed (it is a devDependency: npm install --include=dev)' });
    }
    if (ceiling) results.push(ceiling);
    else {
      results.push({ method: 'ceiling', label: 'ceiling: raw LOAD DATA by the command-line client', status: 'skipped', units: 0, unit: 'rows', seconds: 0, perSecond: null, ratioToCeiling: null, note: section.ceiling.note });
    }
    const top = ceiling?.status === 'ok' ? ceiling.perSecond : null;
    for (const r of results) r.ratioToCeiling = top && r.perSecond ? Number((r.perSecond / top).toFixed(3)) : null;
  } finally {
    if (undoInfile) {
      undoInfile();
      await ctx.conn.query('SET GLOBAL local_infile = 0').catch((err) => ctx.log(`load: could not switch local_infile OFF again: ${(err as Error).message}: do it by hand`));
      const [row] = await queryRows<{ v: number }>(ctx.conn, 'SELECT @@global.local_infile AS v');
      ctx.log(`load: local_infile is ${Number(row.v) ? 'ON (restore failed!)' : 'OFF again'}`);
    }
  }
  return section;
}
