// Deterministic demo and test data: companies, roles with their allow-lists, users, contacts and
// their channels. The same seed and sizes give the same rows, so tests, the benchmark and the
// demo talk about the same data.
import { Connection, queryRows } from '../sql/connection';

/** mulberry32: a tiny, well-distributed 32-bit PRNG; enough for test data, and dependency-free. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenerateOptions {
  seed?: number;
  companies?: number;
  contactsPerCompany?: number;
  usersPerCompany?: number;
  /** Share of contacts with each channel (email is always present). */
  smsShare?: number;
  phoneShare?: number;
  /** Share of channels opted out. */
  optOutShare?: number;
  /** Prefix for company names, so several generated data sets can share a database. */
  label?: string;
}

export interface GeneratedData {
  companyIds: number[];
  /** Contact ids per company, in insertion order. */
  contactIds: Map<number, number[]>;
  /** A user per company whose role sees only that company, and one global administrator. */
  userIds: Map<number, number>;
  adminUserId: number;
}

const FIRST = ['Ada', 'Bo', 'Chen', 'Dara', 'Eli', 'Fatima', 'Goran', 'Hana', 'Ines', 'Jonas', 'Kiri', 'Lea', 'Mateo', 'Noor', 'Olu', 'Priya'];
const LAST = ['Nguyen', 'Okafor', 'Müller', 'García', 'Kowalski', 'Tanaka', 'Haddad', 'Smith', "O'Brien", 'Larsen', 'Rossi', 'Silva'];
const BATCH = 2000;

async function insertMany(conn: Connection, sql: string, rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) await conn.query(sql, [rows.slice(i, i + BATCH)]);
}

async function lastInsertId(conn: Connection): Promise<number> {
  const [row] = await queryRows<{ id: number }>(conn, 'SELECT LAST_INSERT_ID() AS id');
  return Number(row.id);
}

/**
 * Inserts the data with multi-row INSERTs (10,000 contacts take about a second). Ids come from
 * the server; everything else is a function of the seed.
 */
export async function generateCoreData(conn: Connection, options: GenerateOptions = {}): Promise<GeneratedData> {
  const random = seededRandom(options.seed ?? 42);
  const companies = options.companies ?? 3;
  const perCompany = options.contactsPerCompany ?? 1000;
  const label = options.label ?? 'Company';
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];

  const result: GeneratedData = { companyIds: [], contactIds: new Map(), userIds: new Map(), adminUserId: 0 };
  await conn.query("INSERT INTO roles (name, is_global) VALUES ('administrator', 1) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)");
  const adminRole = await lastInsertId(conn);

  for (let c = 0; c < companies; c++) {
    await conn.query('INSERT INTO companies (name) VALUES (?)', [`${label} ${c + 1}`]);
    const companyId = await lastInsertId(conn);
    result.companyIds.push(companyId);
    await conn.query('INSERT INTO roles (name, is_global) VALUES (?, 0)', [`${label} ${c + 1} staff`]);
    const roleId = await lastInsertId(conn);
    await conn.query('INSERT INTO role_companies (role_id, company_id) VALUES (?, ?)', [roleId, companyId]);
    const users = Math.max(1, options.usersPerCompany ?? 2);
    await insertMany(conn, 'INSERT INTO users (company_id, role_id, email, name) VALUES ?',
      Array.from({ length: users }, (_, u) => [companyId, roleId, `user${u + 1}.c${companyId}@example.test`, `${pick(FIRST)} ${pick(LAST)}`]));
    result.userIds.set(companyId, await lastInsertId(conn));

    await insertMany(conn, 'INSERT INTO contacts (company_id, external_ref, name) VALUES ?',
      Array.from({ length: perCompany }, (_, i) => [companyId, `ext-${c + 1}-${i + 1}`, `${pick(FIRST)} ${pick(LAST)}`]));
    const ids = (await queryRows<{ id: number }>(conn, 'SELECT id FROM contacts WHERE company_id = ? ORDER BY id', [companyId])).map((r) => Number(r.id));
    result.contactIds.set(companyId, ids);

    const channels: unknown[][] = [];
    for (const id of ids) {
      const optedOut = () => (random() < (options.optOutShare ?? 0.02) ? new Date(Date.UTC(2026, 0, 1)) : null);
      channels.push([id, 1, `contact${id}@example.test`, 1, optedOut()]);
      if (random() < (options.smsShare ?? 0.6)) channels.push([id, 2, `+1555${String(id).padStart(7, '0')}`, 0, optedOut()]);
      if (random() < (options.phoneShare ?? 0.3)) channels.push([id, 3, `+1444${String(id).padStart(7, '0')}`, 0, optedOut()]);
    }
    await insertMany(conn, 'INSERT INTO contact_channels (contact_id, method_id, address, is_primary, opted_out_at) VALUES ?', channels);
  }
  await conn.query('INSERT INTO users (company_id, role_id, email, name) VALUES (?, ?, ?, ?)',
    [result.companyIds[0], adminRole, `admin.${label.toLowerCase().replace(/\W+/g, '')}.${result.companyIds[0]}@example.test`, 'Administrator']);
  result.adminUserId = await lastInsertId(conn);
  return result;
}

/** Creates a campaign row for a company (the set is created separately by campaign_set_create). */
export async function insertCampaign(conn: Connection, companyId: number, name: string, runType = 'immediate'): Promise<number> {
  await conn.query(
    "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, ?, id, 'active' FROM run_types WHERE code = ?",
    [companyId, name, runType]);
  return lastInsertId(conn);
}
