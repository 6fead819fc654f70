// The schema does not depend on the database's default character set and collation, nor on the
// caller's connection: over a matrix of databases created as DBAs create them (each server's
// default, the utf8mb4 collations in use, latin1 and utf8mb3), the schema pins its own collation
// everywhere, and the routines' own set-up runs end to end from application connections with
// mysql2's default, the server's default and the database's own collation, with counts.
import { expect } from 'chai';
import fs from 'fs';
import mysql from 'mysql2/promise';
import os from 'os';
import path from 'path';
import { createThrowawayDatabase, testServerUrl, ThrowawayDatabase } from '../../tools/harness/database';
import { migrateDatabase } from '../../tools/harness/migrated';
import { Connection, parseUrl, queryRows, withConnection } from '../../tools/sql/connection';
import { SCHEMA_CHARSET, SCHEMA_COLLATION } from '../../tools/sql/charset';
import { loadMessages } from '../../tools/pipeline/loader';
import { retireCampaignSet } from '../../tools/maintenance/retire';
import { latestTemplateVersion } from '../../tools/campaigns/sets';
import { clientFor, Company, runSqlFile, seedCompany, tableName } from '../pipeline/helpers';
import { detectServer } from '../../tools/sql/flavour';
import { PROJECT_ROOT } from '../helpers/cli';

interface DatabaseCase {
  /** The database default a DBA plausibly has; undefined: a plain CREATE DATABASE (the server's default). */
  collation?: string;
  /**
   * After migrate up, every routine file is piped through the command-line client, as a DBA may:
   * the routines then carry the client's character set (MariaDB's client defaults to utf8mb3,
   * MySQL's to utf8mb4_0900_ai_ci) instead of the toolkit's.
   */
  routinesByClient?: boolean;
  /**
   * The same kind of collation under MariaDB's name, where MariaDB lacks the one above: MySQL's
   * default UCA 9.0.0 accent-insensitive `utf8mb4_0900_ai_ci` is `utf8mb4_uca1400_ai_ci` (UCA 14)
   * on MariaDB 10.10+, the default of MariaDB 11.5+. Every case runs on both servers: none is skipped.
   */
  onMariadb?: string;
}

const DATABASES: DatabaseCase[] = [
  {}, { routinesByClient: true },
  ...['utf8mb4_unicode_ci', 'utf8mb4_general_ci', 'utf8mb4_bin', 'utf8mb4_unicode_520_ci', 'latin1_swedish_ci', 'utf8mb3_general_ci']
    .map((collation) => ({ collation })),
  { collation: 'utf8mb4_0900_ai_ci', onMariadb: 'utf8mb4_uca1400_ai_ci' },
];

const PIN = `CHARACTER SET ${SCHEMA_CHARSET} COLLATE ${SCHEMA_COLLATION}`;
const HEX_DIGEST_COLLATION = 'ascii_bin';
const EXPLICIT_BINARY_ASCII = /^CHARACTER SET ascii COLLATE ascii_bin\b/;
const STRING_TYPE = /\b(VARCHAR\(\d+\)|CHAR\(\d+\)|TINYTEXT|MEDIUMTEXT|LONGTEXT|TEXT|ENUM\([^)]*\)|SET\([^)]*\))/gi;

/** Parameter lists, RETURNS clauses and DECLAREd variables of a routine file, with their line numbers. */
function declarations(sql: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const lines = sql.split('\n');
  let inSignature = false;
  lines.forEach((text, i) => {
    if (text.startsWith('--')) return;
    if (/^CREATE (PROCEDURE|FUNCTION) /i.test(text)) inSignature = true;
    const declare = /^\s*DECLARE \w+/i.test(text) && !/^\s*DECLARE \w+ (CURSOR|CONDITION)\b|^\s*DECLARE (CONTINUE|EXIT|UNDO) HANDLER/i.test(text);
    if (inSignature || declare || /^RETURNS /i.test(text)) out.push({ line: i + 1, text });
    if (inSignature && /^\s*(MODIFIES|READS|NO SQL|CONTAINS|DETERMINISTIC|BEGIN|RETURNS)\b/i.test(text)) inSignature = false;
  });
  return out;
}

type Row = Record<string, unknown>;

/** The SELECT result sets of a CALL (mysql2 appends an OK packet after them). */
async function call(conn: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[][]> {
  const [result] = await conn.query(sql, params);
  return (result as unknown[]).filter((r) => Array.isArray(r)) as Row[][];
}

interface ServerCollation {
  id: number;
  charset: string;
}

interface ConnectionVariant {
  name: string;
  /** null: mysql2's default options, as an application that sets nothing connects. */
  collation: string | null;
}

/** An application's connection: plain mysql2 with default options, or one asking for a collation. */
async function applicationConnection(url: string, collation: string | null, collations: Map<string, ServerCollation>): Promise<mysql.Connection> {
  const u = parseUrl(url);
  const base = { host: u.host, port: u.port, user: u.user, password: u.password, database: u.database ?? undefined, socketPath: u.socketPath };
  if (collation === null) return mysql.createConnection(base);
  const { id } = collations.get(collation)!;
  // The handshake carries a one-byte collation id; a larger one (MariaDB's UCA 14 collations) is set afterwards.
  if (id < 256) return mysql.createConnection({ ...base, charsetNumber: id });
  const conn = await mysql.createConnection(base);
  await conn.query(`SET NAMES utf8mb4 COLLATE ${collation}`);
  return conn;
}

describe('character sets and collations', function () {
  this.timeout(600_000);

  it('every string parameter, return value and variable of every routine declares the schema\'s character set and collation', () => {
    const dir = path.join(PROJECT_ROOT, 'procedures');
    const missing: string[] = [];
    let checked = 0;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      for (const { line, text } of declarations(fs.readFileSync(path.join(dir, file), 'utf8'))) {
        for (const m of text.matchAll(STRING_TYPE)) {
          checked++;
          // The schema's pin, or another collation named on purpose (session token hashes are ascii_bin, as their column).
          const rest = text.slice(m.index! + m[0].length).trimStart();
          if (!rest.startsWith(PIN) && !EXPLICIT_BINARY_ASCII.test(rest)) missing.push(`procedures/${file}:${line}: ${m[0]}`);
        }
      }
    }
    expect(missing, `declare these ${PIN}`).to.deep.equal([]);
    expect(checked, 'string declarations found').to.be.greaterThan(80);
  });

  it('every string column of a JSON_TABLE in a routine declares the schema\'s character set and collation', () => {
    const dir = path.join(PROJECT_ROOT, 'procedures');
    const missing: string[] = [];
    let checked = 0;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      // Left undeclared, MariaDB gives these columns the database default's character set.
      for (const m of sql.matchAll(/\b(VARCHAR\(\d+\)|TINYTEXT|MEDIUMTEXT|LONGTEXT|TEXT)\s+((?:CHARACTER SET|COLLATE)\s[^']*?\s)?PATH\b/gi)) {
        checked++;
        if ((m[2] ?? '').trim() !== PIN) missing.push(`procedures/${file}:${sql.slice(0, m.index).split('\n').length}: ${m[0]}`);
      }
    }
    expect(missing).to.deep.equal([]);
    expect(checked, 'JSON_TABLE string columns found').to.be.greaterThan(8);
  });

  let serverCollation: string;
  const collations = new Map<string, ServerCollation>();
  before(async () => {
    await withConnection(testServerUrl(), async (conn) => {
      [{ c: serverCollation }] = await queryRows<{ c: string }>(conn, 'SELECT @@global.collation_server AS c');
      for (const r of await queryRows<{ name: string; id: number; charset: string }>(conn,
        'SELECT COLLATION_NAME AS name, ID AS id, CHARACTER_SET_NAME AS charset FROM information_schema.COLLATIONS')) {
        collations.set(r.name, { id: Number(r.id), charset: r.charset });
      }
      // MariaDB 10.10+ lists its UCA 14 collations per character set only here (utf8mb4_uca1400_ai_ci).
      const [applicability] = await conn.query(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'COLLATION_CHARACTER_SET_APPLICABILITY' AND COLUMN_NAME = 'FULL_COLLATION_NAME'");
      if ((applicability as unknown[]).length > 0) {
        for (const r of await queryRows<{ name: string; id: number; charset: string }>(conn,
          'SELECT FULL_COLLATION_NAME AS name, ID AS id, CHARACTER_SET_NAME AS charset FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY')) {
          if (!collations.has(r.name)) collations.set(r.name, { id: Number(r.id), charset: r.charset });
        }
      }
    }, { database: null });
  });

  for (const { collation: asked, routinesByClient, onMariadb } of DATABASES) {
    const name = `a database created ${asked ? `with COLLATE ${asked}${onMariadb ? ` (${onMariadb} on MariaDB)` : ''}` : 'with the server\'s default'}` +
      (routinesByClient ? ', its routines created by the command-line client' : '');
    describe(name, () => {
      let db: ThrowawayDatabase | undefined;
      let conn: Connection;
      let company: Company;
      let databaseCollation: string;
      let out: string;
      let collation: string | undefined;
      before(async function () {
        collation = asked && !collations.has(asked) && onMariadb ? onMariadb : asked;
        if (collation && !collations.has(collation)) throw new Error(`the server has no collation ${collation}`);
        db = await createThrowawayDatabase('collation', testServerUrl(), { collation });
        await migrateDatabase(db.url);
        conn = await db.connect();
        if (routinesByClient) {
          const client = clientFor((await detectServer(conn)).flavour);
          const dir = path.join(PROJECT_ROOT, 'procedures');
          for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql'))) runSqlFile(client, db.url, path.join(dir, file));
          const [{ n }] = await queryRows<{ n: number }>(conn,
            "SELECT COUNT(*) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND COLLATION_CONNECTION <> 'utf8mb4_unicode_ci'");
          expect(Number(n), 'routines now created with the client\'s collation').to.be.greaterThan(15);
        }
        [{ c: databaseCollation }] = await queryRows<{ c: string }>(conn,
          'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()');
        expect(databaseCollation).to.equal(collation ?? serverCollation);
        company = await seedCompany(conn, 20);
        out = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-collation-'));
      });
      after(async () => {
        await conn?.end();
        await db?.drop();
        if (out) fs.rmSync(out, { recursive: true, force: true });
      });

      it('every table, column, parameter and return value has the schema\'s collation, whatever the database default', async () => {
        const tables = await queryRows<{ t: string; c: string }>(conn,
          "SELECT TABLE_NAME AS t, TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'");
        expect(tables.filter((r) => r.c !== SCHEMA_COLLATION).map((r) => `${r.t}: ${r.c}`)).to.deep.equal([]);
        expect(tables.length).to.be.greaterThan(15);
        // MariaDB stores a JSON column as LONGTEXT COLLATE utf8mb4_bin with a JSON_VALID check: also pinned.
        const columns = await queryRows<{ t: string; col: string; c: string; json: number }>(conn,
          `SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS col, c.COLLATION_NAME AS c,
                  (c.DATA_TYPE = 'json' OR EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k
                    JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = k.CONSTRAINT_NAME
                    WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
                      AND k.CHECK_CLAUSE = CONCAT('json_valid(\`', c.COLUMN_NAME, '\`)'))) AS json
             FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = DATABASE() AND c.COLLATION_NAME IS NOT NULL`);
        // Hex digests (session token hashes, message file sha256) are ascii_bin by declaration; no database default here is ascii.
        expect(columns.filter((r) => r.c !== HEX_DIGEST_COLLATION && r.c !== (Number(r.json) ? 'utf8mb4_bin' : SCHEMA_COLLATION)).map((r) => `${r.t}.${r.col}: ${r.c}`)).to.deep.equal([]);
        expect(columns.length).to.be.greaterThan(30);
        const params = await queryRows<{ r: string; p: string | null; c: string }>(conn,
          'SELECT SPECIFIC_NAME AS r, PARAMETER_NAME AS p, COLLATION_NAME AS c FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL');
        expect(params.filter((r) => r.c !== SCHEMA_COLLATION && r.c !== HEX_DIGEST_COLLATION).map((r) => `${r.r}(${r.p ?? 'RETURNS'}): ${r.c}`)).to.deep.equal([]);
        expect(params.length).to.be.greaterThan(15);
      });

      const variants = (): ConnectionVariant[] => {
        const all: ConnectionVariant[] = [
          { name: 'mysql2\'s default options', collation: null },
          { name: `the server's default collation (${serverCollation})`, collation: serverCollation },
          { name: `the database's collation (${databaseCollation})`, collation: databaseCollation },
        ];
        // mysql2 connects with utf8mb4_unicode_ci; the others only where they differ from it and each other.
        const seen = new Set<string>(['utf8mb4_unicode_ci']);
        return all.filter((v) => v.collation === null || (!seen.has(v.collation) && seen.add(v.collation)));
      };

      it('runs the routines\' own set-up end to end from application connections of every collation, with the expected counts', async () => {
        const ran: string[] = [];
        for (const variant of variants()) {
          ran.push(variant.name);
          const app = await applicationConnection(db!.url, variant.collation, collations);
          try {
            await pipelineRun(app, variant.name, collations.get(variant.collation ?? 'utf8mb4_unicode_ci')!.charset);
          } finally {
            await app.end();
          }
        }
        const [{ n }] = await queryRows<{ n: number }>(conn, "SELECT COUNT(*) AS n FROM campaign_sets WHERE state = 'retired'");
        expect(Number(n), `sets taken to retirement, one per connection (${ran.join('; ')})`).to.equal(ran.length);
      });

      /** Campaign set create, load, mark ready, claim, complete, status updates, summary, health, history move, retire. */
      async function pipelineRun(app: mysql.Connection, variant: string, connectionCharset: string): Promise<void> {
        // What the application sends is what its connection's character set can carry.
        const tick = connectionCharset === 'latin1' ? '' : ' ✓';
        const at = (what: string) => `${what} (${variant}, database ${databaseCollation})`;
        const [campaign] = await conn.query(
          "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, ?, id, 'active' FROM run_types WHERE code = 'immediate'",
          [company.companyId, `Grüße ${variant}`]) as unknown as [{ insertId: number }];
        const id = Number(campaign.insertId);

        await app.query('CALL campaign_set_create(?, @reminderly_test_created)', [id]);
        const [[created]] = await app.query('SELECT @reminderly_test_created AS created') as unknown as [Row[]];
        expect(Number(created.created), at('campaign_set_create')).to.equal(1);
        const [set] = await queryRows<{ state: string; v: number }>(conn, 'SELECT state, template_version AS v FROM campaign_sets WHERE campaign_id = ?', [id]);
        expect(set).to.deep.equal({ state: 'active', v: await latestTemplateVersion(conn) });
        const [[table]] = await call(app, 'CALL campaign_table(?, ?)', [id, 'status_updates']);
        expect(table.table_name).to.equal(`campaign_${id}_status_updates`);

        // Six messages for now, two scheduled in the past; text the database default could not hold.
        const c = company.contactIds;
        const csv = path.join(out, `messages-${id}.csv`);
        const lines = ['contact_id,method,packet,send_after,subject,body'];
        for (let i = 0; i < 6; i++) lines.push(`${c[i]},email,1,,"Grüße, Ihr Termin",予約の確認 ✓ ${i}`);
        for (let i = 6; i < 8; i++) lines.push(`${c[i]},email,1,2026-01-01 08:00,Réservation,Emoji 📅 ${i}`);
        fs.writeFileSync(csv, lines.join('\n') + '\n');
        const loaded = await loadMessages({ url: db!.url, campaignId: id, file: csv, progress: 'none', log: () => undefined });
        expect(loaded, at('messages load')).to.include({ rows: 8, loaded: 8, rejected: 0 });
        const stored = await queryRows<{ body: string }>(conn, `SELECT body FROM \`${await tableName(conn, id, 'messages')}\` ORDER BY id`);
        expect(stored.map((r) => r.body)).to.deep.equal([0, 1, 2, 3, 4, 5].map((i) => `予約の確認 ✓ ${i}`).concat(['Emoji 📅 6', 'Emoji 📅 7']));

        const [[marked]] = await call(app, 'CALL mark_packet_ready(?, ?, 1)', [company.allowedUser, id]);
        expect(marked, at('mark_packet_ready')).to.include({ marked: 8, immediate: 6, scheduled: 2 });

        const [[batch], claimed] = await call(app, 'CALL claim_batch(?, ?, ?, ?, ?)', [id, 'immediate', 'wörker-1', 10, 60]);
        expect(claimed, at('claim_batch immediate')).to.have.length(6);
        expect(batch).to.include({ run_type: 'immediate', worker: 'wörker-1', message_count: 6 });
        const ids = claimed.map((m) => Number(m.message_id));
        const outcomes = [
          ...ids.slice(0, 4).map((m) => ({ message_id: m, status: 'sent', provider_ref: `réf-${m}` })),
          { message_id: ids[4], status: 'failed', detail: 'boîte pleine' },
          { message_id: ids[5], status: 'released' },
        ];
        const [[completed]] = await call(app, 'CALL complete_batch(?, ?)', [batch.batch_id, JSON.stringify(outcomes)]);
        expect(completed, at('complete_batch')).to.include({ already_completed: 0, message_count: 6, sent_count: 4, failed_count: 1, retry_count: 1, released_count: 1 });
        const [[scheduledBatch], scheduled] = await call(app, 'CALL claim_batch(?, ?, ?, ?, ?)', [id, 'scheduled', 'wörker-2', 10, 60]);
        expect(scheduled, at('claim_batch scheduled')).to.have.length(2);
        await call(app, 'CALL complete_batch(?, ?)', [scheduledBatch.batch_id, JSON.stringify(scheduled.map((m) => ({ message_id: Number(m.message_id), status: 'sent' })))]);

        // Of the six sent: three delivered, one responded (an interaction), two stay sent.
        const sent = [...ids.slice(0, 4), ...scheduled.map((m) => Number(m.message_id))];
        for (const m of sent.slice(0, 3)) await call(app, 'CALL add_status_update(?, ?, ?, ?, ?, ?)', [id, m, 'email', 'delivered', `réf-${m}`, 'zugestellt']);
        const [[responded]] = await call(app, 'CALL add_status_update(?, ?, ?, ?, ?, ?)', [id, sent[3], 'email', 'responded', null, `Ja, gerne${tick}`]);
        expect(responded.interaction_id, at('add_status_update responded')).to.not.equal(null);

        const [statuses, [overview]] = await call(app, 'CALL campaign_summary(?, ?)', [company.allowedUser, id]);
        expect(Object.fromEntries(statuses.map((r) => [`${r.status}/${r.method}`, Number(r.messages)])), at('campaign_summary'))
          .to.deep.equal({ 'delivered/email': 3, 'failed/email': 1, 'ready/email': 1, 'responded/email': 1, 'sent/email': 2 });
        expect(overview).to.include({ messages: 8, pending: 0, queued: 1, scheduled: 1, in_flight: 0, batches_completed: 2 });
        const [[health]] = await call(app, 'CALL health_campaigns(?, 15)', [id]);
        expect(health, at('health_campaigns')).to.include({ campaign_id: id, ready: 1, sent: 6 });
        const [byWorker] = await queryRows<{ n: number }>(conn, "SELECT COUNT(*) AS n FROM batches WHERE campaign_id = ? AND worker IN ('wörker-1', 'wörker-2')", [id]);
        expect(Number(byWorker.n)).to.equal(2);

        // The four finished messages move to history once their statuses are older than a day.
        await conn.query(`UPDATE \`${await tableName(conn, id, 'message_contact_status')}\` SET updated_at = updated_at - INTERVAL 2 DAY`);
        const [[moved]] = await call(app, 'CALL history_move(?, 1, 100, NULL, NULL)', [id]);
        expect(moved, at('history_move')).to.include({ messages: 4, message_contact_status: 4, status_updates: 8, interactions: 1, done: 1 });
        const [history] = await queryRows<{ detail: string }>(conn, `SELECT detail FROM \`${await tableName(conn, id, 'interactions_history')}\``);
        expect(history.detail).to.equal(`Ja, gerne${tick}`);

        // Four are unfinished (two sent, one failed, one released): retired only when forced.
        const retired = await retireCampaignSet(conn, { url: db!.url, campaignId: id, outDir: out, force: true });
        expect(retired, at('campaign retire')).to.include({ outcome: 'retired', unfinished: 4 });
        const left = await queryRows(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ?', [`campaign\\_${id}\\_%`]);
        expect(left, at('tables left after retire')).to.have.length(0);
      }
    });
  }
});
