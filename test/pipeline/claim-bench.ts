// Measurements behind the claim design (not a test: prints figures). Against the server in
// MYSQL_URL (default the local one), in a throwaway database:
//
//   npx ts-node -T test/pipeline/claim-bench.ts [--rows 200000] [--workers 1,4,16] [--skip-loader]
//
// For each worker count: the full pipeline (claim_batch + complete_batch, batches of 100) on
// `rows` ready messages, with the most row locks any transaction held (sampled from SHOW ENGINE
// INNODB STATUS every 100 ms, the benchmark's own connections only) and the longest history list. Then, on the same number of rows,
// the issue's baselines: a bare SELECT ... FOR UPDATE SKIP LOCKED + UPDATE loop on a
// (status, send_after) index in READ COMMITTED (REPEATABLE READ only up to 4 workers: with 16 it
// fills the lock heap of a default server), and the naive UPDATE ... ORDER BY ... LIMIT claim.
// Last, the bulk loader against a raw LOAD DATA of the same file (where local infile is allowed).
import fs from 'fs';
import os from 'os';
import path from 'path';
import { parseArgs } from 'util';
import { createThrowawayDatabase, testServerUrl, ThrowawayDatabase } from '../../tools/harness/database';
import { connect, Connection, queryRows } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { loadMessages } from '../../tools/pipeline/loader';
import { runWorker, simulatedSender } from '../../tools/pipeline/worker';
import { isRetryable } from '../../tools/pipeline/routines';
import { migrateDatabase } from '../../tools/harness/migrated';
import { createCampaign, insertMessages, LockSample, sampleLocks, seedCompany, tableName, threadIds } from './helpers';

/** Runs fn on the given worker connections while sampling their locks. */
async function sampled<T>(db: ThrowawayDatabase, conns: Connection[], fn: () => Promise<T>): Promise<{ result: T; sample: LockSample; seconds: number }> {
  const monitor = await db.connect();
  const sampler = sampleLocks(monitor, await threadIds(conns));
  const t0 = Date.now();
  try {
    const result = await fn();
    return { result, sample: await sampler.stop(), seconds: (Date.now() - t0) / 1000 };
  } finally {
    await sampler.stop();
    await monitor.end();
  }
}

async function pipelineRun(db: ThrowawayDatabase, conn: Connection, companyId: number, contacts: number[], rows: number, workers: number) {
  const campaign = await createCampaign(conn, companyId, `bench ${workers}`);
  await insertMessages(conn, campaign, { count: rows, packet: 1, contacts });
  await conn.query('CALL mark_packet_ready((SELECT MIN(u.id) FROM users u JOIN roles r ON r.id = u.role_id WHERE r.is_global = 1), ?, 1)', [campaign]);
  const conns = await Promise.all(Array.from({ length: workers }, () => db.connect()));
  try {
    const { result, sample, seconds } = await sampled(db, conns, () => Promise.all(conns.map((c, i) => runWorker(c, {
      campaignId: campaign, runType: 'immediate', worker: `bench-${i}`, batchSize: 100, leaseSeconds: 300, send: simulatedSender(0),
    }))));
    const done = result.reduce((s, w) => s + w.messages, 0);
    if (done !== rows) throw new Error(`pipeline completed ${done} of ${rows}`);
    return { rowsPerSecond: Math.round(rows / seconds), seconds, ...sample, deadlockRetries: result.reduce((s, w) => s + w.retries, 0) };
  } finally {
    for (const c of conns) await c.end();
  }
}

async function bareTable(conn: Connection, rows: number): Promise<void> {
  await conn.query('DROP TABLE IF EXISTS bench_messages');
  await conn.query(`CREATE TABLE bench_messages (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, status TINYINT UNSIGNED NOT NULL DEFAULT 0,
    send_after DATETIME(3) NOT NULL, batch_id BIGINT UNSIGNED NULL, body VARCHAR(200) NOT NULL,
    KEY ix_ready (status, send_after, id), KEY ix_batch (batch_id)) ENGINE=InnoDB`);
  for (let start = 0; start < rows; start += 5000) {
    const n = Math.min(5000, rows - start);
    await conn.query('INSERT INTO bench_messages (send_after, body) VALUES ?',
      [Array.from({ length: n }, (_, i) => [new Date(Date.UTC(2025, 0, 1) + (start + i) * 1000), 'x'.repeat(100)])]);
  }
}

type Baseline = 'skip-locked-rc' | 'skip-locked-rr' | 'naive-update';

async function baselineRun(db: ThrowawayDatabase, conn: Connection, rows: number, workers: number, kind: Baseline) {
  await bareTable(conn, rows);
  const conns = await Promise.all(Array.from({ length: workers }, () => db.connect()));
  let nextBatch = 0;
  try {
    const { result, sample, seconds } = await sampled(db, conns, () => Promise.all(conns.map(async (c) => {
      let done = 0;
      let retries = 0;
      if (kind !== 'naive-update') {
        await c.query(`SET SESSION TRANSACTION ISOLATION LEVEL ${kind === 'skip-locked-rc' ? 'READ COMMITTED' : 'REPEATABLE READ'}`);
      }
      for (;;) {
        try {
          let ids: number[];
          if (kind === 'naive-update') {
            const batch = ++nextBatch;
            await c.query('UPDATE bench_messages SET status = 1, batch_id = ? WHERE status = 0 AND send_after <= NOW(3) ORDER BY status, send_after, id LIMIT 100', [batch]);
            ids = (await queryRows<{ id: number }>(c, 'SELECT id FROM bench_messages WHERE batch_id = ?', [batch])).map((r) => r.id);
          } else {
            await c.query('START TRANSACTION');
            ids = (await queryRows<{ id: number }>(c,
              'SELECT id FROM bench_messages WHERE status = 0 AND send_after <= NOW(3) ORDER BY status, send_after, id LIMIT 100 FOR UPDATE SKIP LOCKED')).map((r) => r.id);
            if (ids.length) await c.query('UPDATE bench_messages SET status = 1 WHERE id IN (?)', [ids]);
            await c.query('COMMIT');
          }
          // An empty claim ends the worker only when nothing is left (a claim can come back empty
          // while others hold the rows it waited for).
          if (!ids.length) {
            const [left] = await queryRows<{ n: number }>(c, 'SELECT COUNT(*) AS n FROM bench_messages WHERE status = 0');
            if (Number(left.n) === 0) break;
            continue;
          }
          await c.query('UPDATE bench_messages SET status = 2 WHERE id IN (?)', [ids]);
          done += ids.length;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          if (!isRetryable(err)) throw err;
          retries++;
        }
      }
      return { done, retries };
    })));
    const done = result.reduce((s, w) => s + w.done, 0);
    if (done !== rows) throw new Error(`${kind} completed ${done} of ${rows}`);
    return { rowsPerSecond: Math.round(rows / seconds), seconds, ...sample, deadlockRetries: result.reduce((s, w) => s + w.retries, 0) };
  } finally {
    for (const c of conns) await c.end();
    await conn.query('DROP TABLE IF EXISTS bench_messages');
  }
}

async function loaderRun(db: ThrowawayDatabase, conn: Connection, companyId: number, contacts: number[], rows: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-bench-'));
  const file = path.join(dir, 'messages.csv');
  const lines = ['contact_id,method,packet,send_after,subject,body'];
  for (let i = 0; i < rows; i++) lines.push(`${contacts[i % contacts.length]},email,1,2026-06-01 10:00:00,Reminder ${i},"Dear customer, see you soon"`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  try {
    const raw = await createCampaign(conn, companyId, 'raw load');
    // The raw load maps method codes itself, as a hand-written LOAD DATA would.
    const methods = await queryRows<{ id: number; code: string }>(conn, 'SELECT id, code FROM contact_methods');
    const methodCase = `CASE @method ${methods.map((m) => `WHEN ${conn.escape(m.code)} THEN ${Number(m.id)}`).join(' ')} END`;
    const rawConn = await connect(db.url, { localInfile: true });
    const t0 = Date.now();
    await rawConn.query({
      sql: `LOAD DATA LOCAL INFILE 'm.csv' INTO TABLE \`${await tableName(conn, raw, 'messages')}\` CHARACTER SET utf8mb4
            FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' LINES TERMINATED BY '\\n' IGNORE 1 LINES
            (contact_id, @method, packet, @send_after, subject, body)
            SET method_id = ${methodCase}, send_after = NULLIF(@send_after, '')`,
      infileStreamFactory: () => fs.createReadStream(file),
    });
    const rawSeconds = (Date.now() - t0) / 1000;
    await rawConn.end();
    const viaLoader = await createCampaign(conn, companyId, 'loader');
    const result = await loadMessages({ url: db.url, campaignId: viaLoader, file, progress: 'none', log: () => undefined });
    const insertCampaign = await createCampaign(conn, companyId, 'loader insert');
    const inserted = await loadMessages({ url: db.url, campaignId: insertCampaign, file, path: 'insert', progress: 'none', log: () => undefined });
    return {
      rawLoadDataRowsPerSecond: Math.round(rows / rawSeconds), loaderRowsPerSecond: result.rowsPerSecond, loaderPath: result.path,
      ratio: Number((result.rowsPerSecond / (rows / rawSeconds)).toFixed(2)), insertPathRowsPerSecond: inserted.rowsPerSecond,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    rows: { type: 'string', default: '200000' }, workers: { type: 'string', default: '1,4,16' },
    'skip-loader': { type: 'boolean', default: false }, 'skip-claims': { type: 'boolean', default: false },
  } });
  const rows = Number(values.rows);
  const workerCounts = values['skip-claims'] ? [] : values.workers!.split(',').map(Number);
  const db = await createThrowawayDatabase('claimbench', testServerUrl());
  let conn: Connection | undefined;
  try {
    await migrateDatabase(db.url);
    conn = await db.connect();
    const server = await detectServer(conn);
    console.log(`${server.flavour} ${server.version}, ${rows} rows, batches of 100`);
    const company = await seedCompany(conn, 10_000);
    const report: Record<string, unknown> = { server: `${server.flavour} ${server.version}`, rows };
    for (const w of workerCounts) {
      const r = await pipelineRun(db, conn, company.companyId, company.contactIds, rows, w);
      report[`pipeline_${w}`] = r;
      console.log(`pipeline (claim_batch + complete_batch), ${w} workers: ${r.rowsPerSecond} rows/s, most row locks in one transaction ${r.maxRowLocks}, history list up to ${r.maxHistory}, ${r.deadlockRetries} deadlock retries`);
    }
    const top = Math.max(0, ...workerCounts);
    const baselines: [Baseline, number][] = top ? [['skip-locked-rc', top], ['skip-locked-rr', Math.min(4, top)], ['naive-update', top]] : [];
    for (const [kind, w] of baselines) {
      const r = await baselineRun(db, conn, rows, w, kind);
      report[`${kind}_${w}`] = r;
      console.log(`baseline ${kind}, ${w} workers: ${r.rowsPerSecond} rows/s, most row locks in one transaction ${r.maxRowLocks}, history list up to ${r.maxHistory}`);
    }
    const p = (w: number) => (report[`pipeline_${w}`] as { rowsPerSecond: number } | undefined)?.rowsPerSecond;
    const b = (k: string) => (report[k] as { rowsPerSecond: number }).rowsPerSecond;
    if (p(top) && p(4)) console.log(`ratios at ${top} workers: pipeline / bare skip-locked RC ${(p(top)! / b(`skip-locked-rc_${top}`)).toFixed(2)}, pipeline ${top} / pipeline 4 ${(p(top)! / p(4)!).toFixed(2)}, pipeline / naive ${(p(top)! / b(`naive-update_${top}`)).toFixed(2)}`);
    if (!values['skip-loader'] && server.localInfile) {
      const l = await loaderRun(db, conn, company.companyId, company.contactIds, rows);
      report.loader = l;
      console.log(`loader: ${l.loaderRowsPerSecond} rows/s by ${l.loaderPath} vs raw LOAD DATA ${l.rawLoadDataRowsPerSecond} rows/s (ratio ${l.ratio}); INSERT path ${l.insertPathRowsPerSecond} rows/s`);
    }
    console.log(JSON.stringify(report));
  } finally {
    await conn?.end().catch(() => conn?.destroy());
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
