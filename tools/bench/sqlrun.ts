// The "sql run" section: the runner against the server's own client replaying the same dump.
// A source database of about --sql-run-mb megabytes of rows (text, and BLOBs dumped without
// --hex-blob, so the file is not UTF-8) is dumped once by the server's dump tool with default
// options (multi-row INSERTs); then, alternately, the client (`mariadb`/`mysql` < dump) and the
// runner (runSqlFile, the code `sql run` runs, Node start-up excluded) restore it into fresh
// databases; each restore is checked against the source (row count and CHECKSUM TABLE).
import fs from 'fs';
import path from 'path';
import { createThrowawayDatabase, ThrowawayDatabase } from '../harness/database';
import { dumpWithTool, runWithClient } from '../sql/client';
import { queryRows, withConnection } from '../sql/connection';
import { chooseClientCharacterSet, runSqlFile } from '../sql/runner';
import { BenchContext } from './context';
import { rate, RateResult, SqlRunSection } from './types';

/** About what one generated row takes in the dump. */
const DUMP_BYTES_PER_ROW = 250;

const TABLE_SQL = `CREATE TABLE replayed (
  id INT NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  body TEXT NOT NULL,
  photo BLOB,
  created DATETIME NOT NULL,
  KEY ix_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

async function fillSource(db: ThrowawayDatabase, rows: number): Promise<void> {
  await withConnection(db.url, async (conn) => {
    await conn.query(TABLE_SQL);
    await conn.query('CREATE TABLE digits (d INT NOT NULL PRIMARY KEY)');
    await conn.query('INSERT INTO digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)');
    // Portable row generation (no recursive CTE, whose depth limit is a different variable per server).
    const places = Math.max(1, Math.ceil(Math.log10(rows + 1)));
    const digits = Array.from({ length: places }, (_, i) => `d${i}`);
    const number = digits.map((d, i) => `${d}.d * ${10 ** i}`).join(' + ');
    await conn.query(
      `INSERT INTO replayed (id, name, body, photo, created)
       SELECT n, CONCAT('contact ', n, ' it''s; "quoted" -- not a comment'), REPEAT(SHA2(n, 256), 2),
              UNHEX(SHA2(n, 256)), '2026-01-01 00:00:00' + INTERVAL n SECOND
         FROM (SELECT ${number} + 1 AS n FROM ${digits.map((d) => `digits ${d}`).join(', ')}) numbers
        WHERE n <= ?`, [rows]);
    await conn.query('DROP TABLE digits');
  });
}

async function fingerprint(db: ThrowawayDatabase): Promise<string> {
  return withConnection(db.url, async (conn) => {
    const [{ n }] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM replayed');
    const [sum] = await queryRows<{ Checksum: number | string }>(conn, 'CHECKSUM TABLE replayed');
    return `${n} rows, checksum ${sum.Checksum}`;
  });
}

export async function runSqlRunSection(ctx: BenchContext, options: { megabytes: number; repeats: number }): Promise<SqlRunSection> {
  const rows = Math.max(1, Math.round((options.megabytes * 1_000_000) / DUMP_BYTES_PER_ROW));
  const dump = path.join(ctx.workDir, 'sql-run-dump.sql');
  const source = await createThrowawayDatabase('bench_sqlrun_src', ctx.serverUrl);
  const client: RateResult = { method: 'client', label: `${ctx.server.clientCommand} < dump`, status: 'skipped', units: 0, unit: 'bytes', seconds: 0, perSecond: null };
  const runner: RateResult = { method: 'runner', label: 'sql run (runSqlFile)', status: 'skipped', units: 0, unit: 'bytes', seconds: 0, perSecond: null };
  const clientRuns: number[] = [];
  const runnerRuns: number[] = [];
  let bytes = 0;
  try {
    ctx.log(`sql run: generating ${rows} rows (about ${options.megabytes} MB of dump)`);
    await fillSource(source, rows);
    const expected = await fingerprint(source);
    await dumpWithTool(source.url, dump, [], ctx.server);
    bytes = fs.statSync(dump).size;
    const dumpBytes = fs.readFileSync(dump);
    // Both start in the client's default character set (the dump sets its own with SET NAMES).
    const characterSet = chooseClientCharacterSet(ctx.server.flavour, ctx.server.clientCommand).name;

    const replay = async (who: 'client' | 'runner'): Promise<number> => {
      const target = await createThrowawayDatabase(`bench_sqlrun_${who}`, ctx.serverUrl);
      try {
        const seconds = who === 'client'
          ? await timed(() => runWithClient(target.url, dumpBytes, { server: ctx.server, defaultCharacterSet: null }))
          : await withConnection(target.url, (conn) => timed(() => runSqlFile(conn, dump, { file: 'dump.sql', characterSet })));
        const got = await fingerprint(target);
        if (got !== expected) throw new Error(`the ${who}'s restore has ${got}, the source ${expected}`);
        return seconds;
      } finally {
        await target.drop();
      }
    };
    // Alternately first and second, so neither side always gets the warmer server.
    for (let i = 0; i < options.repeats && !ctx.stopping(); i++) {
      for (const who of i % 2 === 0 ? ['client', 'runner'] as const : ['runner', 'client'] as const) {
        (who === 'client' ? clientRuns : runnerRuns).push(await replay(who));
      }
    }
    for (const [result, runs] of [[client, clientRuns], [runner, runnerRuns]] as const) {
      const best = Math.min(...runs);
      Object.assign(result, { status: 'ok', units: bytes, seconds: Number(best.toFixed(3)), perSecond: rate(bytes, best),
        note: `best of ${runs.map((s) => s.toFixed(2)).join(', ')} s; restore checked: ${expected}` });
    }
  } catch (err) {
    const failed = (err as Error).message.includes('runner') || runnerRuns.length < clientRuns.length ? runner : client;
    Object.assign(failed, { status: 'failed', note: (err as Error).message.split('\n')[0] });
  } finally {
    await source.drop();
    fs.rmSync(dump, { force: true });
  }
  return {
    megabytes: options.megabytes, rows, bytes, dumpCommand: `${ctx.server.dumpCommand} (default options)`,
    results: [client, runner],
    ratio: client.perSecond && runner.perSecond ? Number((runner.perSecond / client.perSecond).toFixed(3)) : null,
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}
