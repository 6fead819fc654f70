// The claim designs compared before claim_batch was written (not a test: prints figures).
// Each design is a claim procedure plus a minimal completion on a bare table of `rows` messages:
//
//   npx ts-node -T test/pipeline/claim-designs.ts DESIGN WORKERS [ROWS]
//
//   idx-rr  claim from messages by a (status, send_after, id) index, REPEATABLE READ
//   idx-rc  the same in READ COMMITTED
//   q-rr    claim from a queue table whose primary key is the claim order, REPEATABLE READ
//   q-rc    the same in READ COMMITTED (what claim_batch does)
//
// A guard kills the workers if one transaction holds more than 60,000 row locks, so that the
// REPEATABLE READ designs cannot fill the lock heap of a shared server (with 16 workers they do).
import { createThrowawayDatabase, testServerUrl } from '../../tools/harness/database';
import { Connection, queryRows } from '../../tools/sql/connection';
import { isRetryable } from '../../tools/pipeline/retry';
import { sampleLocks, threadIds } from './helpers';

type Design = 'idx-rr' | 'idx-rc' | 'q-rr' | 'q-rc';

async function setup(conn: Connection, design: Design, rows: number): Promise<void> {
  const queue = design.startsWith('q');
  await conn.query(`CREATE TABLE channels (contact_id BIGINT UNSIGNED NOT NULL, method_id TINYINT UNSIGNED NOT NULL, address VARCHAR(254) NOT NULL,
    PRIMARY KEY (contact_id, method_id))`);
  await conn.query(`CREATE TABLE msg (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, contact_id BIGINT UNSIGNED NOT NULL, method_id TINYINT UNSIGNED NOT NULL,
    status TINYINT UNSIGNED NOT NULL DEFAULT 0, send_after DATETIME(3) NOT NULL, batch_id BIGINT UNSIGNED NULL, body VARCHAR(200) NOT NULL
    ${queue ? '' : ', KEY ix_ready (status, send_after, id), KEY ix_batch (batch_id)'})`);
  await conn.query(`CREATE TABLE q (lane TINYINT UNSIGNED NOT NULL, visible_at DATETIME(3) NOT NULL, message_id BIGINT UNSIGNED NOT NULL,
    batch_id BIGINT UNSIGNED NULL, PRIMARY KEY (lane, visible_at, message_id))`);
  await conn.query(`CREATE TABLE batches (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, worker VARCHAR(64) NOT NULL, claimed_at DATETIME(3) NOT NULL,
    lease_until DATETIME(3) NOT NULL, completed_at DATETIME(3) NULL)`);
  await conn.query('INSERT INTO channels VALUES ?', [Array.from({ length: 10_000 }, (_, i) => [i + 1, 1, `c${i + 1}@example.com`])]);
  for (let start = 0; start < rows; start += 5000) {
    const n = Math.min(5000, rows - start);
    await conn.query('INSERT INTO msg (contact_id, method_id, send_after, body) VALUES ?',
      [Array.from({ length: n }, (_, i) => [1 + ((start + i) % 10_000), 1, new Date(Date.UTC(2025, 0, 1) - (start + i) * 1000), 'x'.repeat(100)])]);
  }
  if (queue) await conn.query('INSERT INTO q (lane, visible_at, message_id) SELECT 1, send_after, id FROM msg');
  const iso = design.endsWith('rc') ? 'READ COMMITTED' : 'REPEATABLE READ';
  const claim = queue ? `
      SELECT JSON_ARRAYAGG(JSON_ARRAY(visible_at, message_id)) INTO v_keys FROM (SELECT visible_at, message_id FROM q
       WHERE lane = 1 AND visible_at <= NOW(3) ORDER BY lane, visible_at, message_id LIMIT p_n FOR UPDATE SKIP LOCKED) d;
      IF v_keys IS NOT NULL THEN
        INSERT INTO batches (worker, claimed_at, lease_until) VALUES (p_worker, NOW(3), NOW(3) + INTERVAL 300 SECOND);
        SET p_batch = LAST_INSERT_ID();
        SELECT lease_until INTO v_lease FROM batches WHERE id = p_batch;
        UPDATE JSON_TABLE(v_keys, '$[*]' COLUMNS (va DATETIME(3) PATH '$[0]', id BIGINT UNSIGNED PATH '$[1]')) j
          STRAIGHT_JOIN q ON q.lane = 1 AND q.visible_at = j.va AND q.message_id = j.id SET q.visible_at = v_lease, q.batch_id = p_batch;
        SET v_ids = (SELECT JSON_ARRAYAGG(id) FROM JSON_TABLE(v_keys, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[1]')) j);
      END IF;` : `
      SELECT JSON_ARRAYAGG(id) INTO v_ids FROM (SELECT id FROM msg WHERE status = 0 AND send_after <= NOW(3)
       ORDER BY status, send_after, id LIMIT p_n FOR UPDATE SKIP LOCKED) d;
      IF v_ids IS NOT NULL THEN
        INSERT INTO batches (worker, claimed_at, lease_until) VALUES (p_worker, NOW(3), NOW(3) + INTERVAL 300 SECOND);
        SET p_batch = LAST_INSERT_ID();
        UPDATE JSON_TABLE(v_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j STRAIGHT_JOIN msg ON msg.id = j.id SET msg.status = 1, msg.batch_id = p_batch;
      END IF;`;
  await conn.query(`CREATE PROCEDURE claim(p_worker VARCHAR(64), p_n INT, OUT p_batch BIGINT UNSIGNED)
    BEGIN
      DECLARE v_ids, v_keys JSON DEFAULT NULL;
      DECLARE v_lease DATETIME(3);
      DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
      SET p_batch = NULL;
      SET TRANSACTION ISOLATION LEVEL ${iso};
      START TRANSACTION;
      ${claim}
      COMMIT;
      IF p_batch IS NOT NULL THEN
        SELECT m.id, m.contact_id, ch.address FROM JSON_TABLE(v_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
          JOIN msg m ON m.id = j.id JOIN channels ch ON ch.contact_id = m.contact_id AND ch.method_id = m.method_id;
      END IF;
    END`);
  await conn.query(`CREATE PROCEDURE complete(p_batch BIGINT UNSIGNED)
    BEGIN
      DECLARE v_lease DATETIME(3);
      DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
      START TRANSACTION;
      SELECT lease_until INTO v_lease FROM batches WHERE id = p_batch FOR UPDATE;
      ${queue
    ? `UPDATE msg JOIN q ON q.message_id = msg.id SET msg.status = 2 WHERE q.lane = 1 AND q.visible_at = v_lease AND q.batch_id = p_batch;
         DELETE FROM q WHERE lane = 1 AND visible_at = v_lease AND batch_id = p_batch;`
    : 'UPDATE msg SET status = 2 WHERE batch_id = p_batch;'}
      UPDATE batches SET completed_at = NOW(3) WHERE id = p_batch;
      COMMIT;
    END`);
}

async function main(): Promise<void> {
  const [design, workersArg, rowsArg] = process.argv.slice(2) as [Design, string, string?];
  if (!['idx-rr', 'idx-rc', 'q-rr', 'q-rc'].includes(design)) throw new Error('design: idx-rr, idx-rc, q-rr or q-rc');
  const workers = Number(workersArg ?? 4);
  const rows = Number(rowsArg ?? 200_000);
  const db = await createThrowawayDatabase(`design${design.replace('-', '')}`, testServerUrl());
  try {
    const conn = await db.connect();
    await setup(conn, design, rows);
    const conns = await Promise.all(Array.from({ length: workers }, () => db.connect()));
    const ids = await threadIds(conns);
    const sampler = sampleLocks(conn, ids);
    let guard = '';
    const guardConn = await db.connect();
    const guardLoop = setInterval(async () => {
      const [status] = await queryRows<{ Status: string }>(guardConn, 'SHOW ENGINE INNODB STATUS');
      // Only our workers' transactions: other sessions on a shared server are none of our business.
      let worst = 0;
      for (const block of status.Status.split('---TRANSACTION').slice(1)) {
        const thread = /(?:MySQL|MariaDB) thread id (\d+)/.exec(block);
        const locks = /(\d+) row lock\(s\)/.exec(block);
        if (thread && locks && ids.has(Number(thread[1]))) worst = Math.max(worst, Number(locks[1]));
      }
      if (worst > 60_000 && !guard) {
        guard = `stopped: a transaction held ${worst} row locks`;
        for (const id of ids) await guardConn.query(`KILL ${id}`).catch(() => undefined);
      }
    }, 100);
    let done = 0;
    let retries = 0;
    const t0 = Date.now();
    await Promise.all(conns.map(async (c, i) => {
      for (let empty = 0; empty < 2 && !guard;) {
        try {
          const [res] = await c.query('CALL claim(?, 100, @b)', [`w${i}`]) as unknown as [unknown[]];
          const [[{ b }]] = await c.query('SELECT @b AS b') as unknown as [[{ b: number | null }]];
          if (b === null) { empty++; continue; }
          empty = 0;
          for (;;) {
            try { await c.query('CALL complete(?)', [b]); break; } catch (err) { if (!isRetryable(err)) throw err; retries++; }
          }
          done += ((res as unknown[][])[0] ?? []).length;
        } catch (err) {
          if (guard) return;
          if (!isRetryable(err)) throw err;
          retries++;
        }
      }
    }));
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(guardLoop);
    const sample = await sampler.stop();
    await guardConn.end();
    const [server] = await queryRows<{ v: string }>(conn, 'SELECT VERSION() AS v');
    console.log(JSON.stringify({ server: server.v, design, workers, rows, seconds, rowsPerSecond: Math.round(done / seconds), done,
      maxRowLocks: sample.maxRowLocks, maxHistory: sample.maxHistory, retries, guard }));
    for (const c of conns) c.destroy();
    await conn.end();
  } finally {
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
