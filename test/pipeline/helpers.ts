// Shared set-up for the pipeline's specs: a throwaway database with the pipeline's routines, a
// company with contacts and channels, campaigns with table sets, messages, and table checksums.
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { ThrowawayDatabase } from '../../tools/harness/database';
import { findClient } from '../../tools/sql/client';
import { Connection, parseUrl, queryRows } from '../../tools/sql/connection';
import { flavourCapabilities, ServerFlavour } from '../../tools/sql/flavour';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const ROOT = path.resolve(__dirname, '..', '..');

export function clientFor(flavour: ServerFlavour): string {
  if (process.env.MYSQL_CLIENT) return process.env.MYSQL_CLIENT;
  const client = findClient(flavourCapabilities(flavour));
  if ('error' in client) throw new Error(`no ${flavour} command-line client on PATH (set MYSQL_CLIENT)`);
  return client.command;
}

/** Pipes a .sql file through the command-line client into the database, as a DBA would. */
export function runSqlFile(client: string, url: string, file: string): void {
  const u = parseUrl(url);
  const args = ['--protocol=TCP', '-h', u.host, '-P', String(u.port), '-u', u.user, ...(u.password ? [`-p${u.password}`] : []), u.database!];
  const result = spawnSync(client, args, { input: fs.readFileSync(file), encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`${path.relative(ROOT, file)} through ${client}: ${result.stderr || result.stdout}`);
}

/** The pipeline's own files: its schema versions (V0040 on) and its routines. */
export const PIPELINE_ROUTINES = [
  'assert_company_access', 'pipeline_check_campaign', 'pipeline_hold_set', 'claim_batch', 'complete_batch', 'pipeline_mark_ready', 'mark_packet_ready',
  'mark_ready', 'add_status_update', 'campaign_summary',
];

export function pipelineFiles(): string[] {
  const schema = fs.readdirSync(path.join(ROOT, 'schema'))
    .filter((f) => /^V(\d+)__.*\.sql$/.test(f) && !f.endsWith('.down.sql') && Number(/^V(\d+)/.exec(f)![1]) >= 40)
    .sort().map((f) => path.join(ROOT, 'schema', f));
  return [...schema, ...PIPELINE_ROUTINES.map((r) => path.join(ROOT, 'procedures', `${r}.sql`))];
}

/** Mocha helper: a migrated throwaway database for the enclosing describe(), dropped afterwards. */
export function usePipelineDatabase(label: string): ThrowawayDatabase {
  return useThrowawayDatabase({ label, migrated: true });
}

export interface Company {
  companyId: number;
  /** A user whose role lists the company. */
  allowedUser: number;
  /** A user of the company whose role does not list it. */
  deniedUser: number;
  /** A user with a global role. */
  globalUser: number;
  contactIds: number[];
}

let companySeq = 0;

/** A company with `contacts` contacts, each with an email channel (odd ones also sms). */
export async function seedCompany(conn: Connection, contacts = 100): Promise<Company> {
  const name = `company ${process.pid} ${++companySeq} ${Math.random().toString(36).slice(2, 8)}`;
  const [c] = await conn.query('INSERT INTO companies (name) VALUES (?)', [name]) as unknown as [{ insertId: number }];
  const companyId = Number(c.insertId);
  const role = async (roleName: string, global: number) => {
    const [r] = await conn.query('INSERT INTO roles (name, is_global) VALUES (?, ?)', [roleName, global]) as unknown as [{ insertId: number }];
    return Number(r.insertId);
  };
  const staff = await role(`${name} staff`, 0);
  const outsider = await role(`${name} outsider`, 0);
  const admin = await role(`${name} admin`, 1);
  await conn.query('INSERT INTO role_companies (role_id, company_id) VALUES (?, ?)', [staff, companyId]);
  const user = async (roleId: number, email: string) => {
    const [u] = await conn.query('INSERT INTO users (company_id, role_id, email) VALUES (?, ?, ?)', [companyId, roleId, email]) as unknown as [{ insertId: number }];
    return Number(u.insertId);
  };
  const allowedUser = await user(staff, `staff.${companyId}@example.com`);
  const deniedUser = await user(outsider, `outsider.${companyId}@example.com`);
  const globalUser = await user(admin, `admin.${companyId}@example.com`);
  const contactIds: number[] = [];
  for (let start = 0; start < contacts; start += 5000) {
    const n = Math.min(5000, contacts - start);
    const rows = Array.from({ length: n }, (_, i) => [companyId, `contact ${start + i}`]);
    const [r] = await conn.query('INSERT INTO contacts (company_id, name) VALUES ?', [rows]) as unknown as [{ insertId: number }];
    // Multi-row inserts hand out consecutive ids (innodb_autoinc_lock_mode 1 or 2 with one writer).
    for (let i = 0; i < n; i++) contactIds.push(Number(r.insertId) + i);
  }
  for (let start = 0; start < contactIds.length; start += 5000) {
    const slice = contactIds.slice(start, start + 5000);
    await conn.query('INSERT INTO contact_channels (contact_id, method_id, address) VALUES ?',
      [slice.map((id) => [id, 1, `c${id}@example.com`])]);
    const odd = slice.filter((id) => id % 2 === 1);
    if (odd.length) await conn.query('INSERT INTO contact_channels (contact_id, method_id, address) VALUES ?', [odd.map((id) => [id, 2, `+1555${id}`])]);
  }
  return { companyId, allowedUser, deniedUser, globalUser, contactIds };
}

export async function createCampaign(conn: Connection, companyId: number, name = 'campaign'): Promise<number> {
  const [r] = await conn.query(
    "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, ?, id, 'active' FROM run_types WHERE code = 'immediate'",
    [companyId, name]) as unknown as [{ insertId: number }];
  const campaignId = Number(r.insertId);
  await conn.query('CALL campaign_set_create(?, @reminderly_created)', [campaignId]);
  return campaignId;
}

export async function tableName(conn: Connection, campaignId: number, kind: string): Promise<string> {
  const [row] = await queryRows<{ t: string }>(conn, 'SELECT campaign_table_name(?, ?) AS t', [campaignId, kind]);
  return row.t;
}

export interface MessageSpec {
  count: number;
  packet?: number;
  sendAfter?: Date | null;
  /** Contacts to use, round robin (default: the company's). */
  contacts: number[];
  method?: number;
}

/** Inserts messages straight into the campaign's table (the loader has its own tests). */
export async function insertMessages(conn: Connection, campaignId: number, spec: MessageSpec): Promise<void> {
  const table = await tableName(conn, campaignId, 'messages');
  for (let start = 0; start < spec.count; start += 5000) {
    const n = Math.min(5000, spec.count - start);
    const rows = Array.from({ length: n }, (_, i) => [
      spec.contacts[(start + i) % spec.contacts.length], spec.method ?? 1, spec.packet ?? 1, spec.sendAfter ?? null, 'Your appointment', 'See you soon',
    ]);
    await conn.query(`INSERT INTO \`${table}\` (contact_id, method_id, packet, send_after, subject, body) VALUES ?`, [rows]);
  }
}

/** CHECKSUM TABLE of every table of the campaign's set and of batches: equal before and after = nothing changed. */
export async function checksums(conn: Connection, campaignId: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const kinds = await queryRows<{ kind: string }>(conn, 'SELECT kind FROM campaign_table_kinds ORDER BY kind');
  const tables = ['batches', 'campaign_sets'];
  for (const { kind } of kinds) tables.push(await tableName(conn, campaignId, kind));
  for (const t of tables) {
    const [row] = await queryRows<{ Checksum: string }>(conn, `CHECKSUM TABLE \`${t}\``);
    out[t] = String(row.Checksum);
  }
  return out;
}

/** Runs fn and expects a SIGNAL whose message matches. */
export async function expectSignal(fn: () => Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const e = err as { sqlState?: string; sqlMessage?: string; message: string };
    if (e.sqlState !== '45000') throw new Error(`expected SIGNAL 45000 matching ${message}, got: ${e.message}`);
    if (!message.test(e.sqlMessage ?? '')) throw new Error(`expected SIGNAL matching ${message}, got: ${e.sqlMessage}`);
    return;
  }
  throw new Error(`expected SIGNAL matching ${message}, but the call succeeded`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LockSample {
  /** The most row locks one transaction of the watched connections held at a sample. */
  maxRowLocks: number;
  /** The longest InnoDB history list seen (unpurged undo). */
  maxHistory: number;
  samples: number;
}

/** The server's thread id of each connection, to watch only our own transactions. */
export async function threadIds(conns: Connection[]): Promise<Set<number>> {
  const ids = new Set<number>();
  for (const c of conns) ids.add(Number((await queryRows<{ id: number }>(c, 'SELECT CONNECTION_ID() AS id'))[0].id));
  return ids;
}

/**
 * Samples SHOW ENGINE INNODB STATUS every 100 ms until stopped, counting only the transactions of
 * the given threads (other sessions on a shared server are not ours to measure).
 */
export function sampleLocks(monitor: Connection, threads: Set<number>): { stop(): Promise<LockSample> } {
  const sample: LockSample = { maxRowLocks: 0, maxHistory: 0, samples: 0 };
  let done = false;
  const loop = (async () => {
    while (!done) {
      const [status] = await queryRows<{ Status: string }>(monitor, 'SHOW ENGINE INNODB STATUS');
      const text = status.Status;
      const history = /History list length (\d+)/.exec(text);
      if (history) sample.maxHistory = Math.max(sample.maxHistory, Number(history[1]));
      const list = text.slice(text.indexOf('LIST OF TRANSACTIONS'));
      for (const block of list.split('---TRANSACTION').slice(1)) {
        const thread = /(?:MySQL|MariaDB) thread id (\d+)/.exec(block);
        const locks = /(\d+) row lock\(s\)/.exec(block);
        if (thread && locks && threads.has(Number(thread[1]))) sample.maxRowLocks = Math.max(sample.maxRowLocks, Number(locks[1]));
      }
      sample.samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      done = true;
      await loop;
      return sample;
    },
  };
}
