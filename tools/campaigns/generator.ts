// Deterministic demo and test data: companies, roles with their allow-lists, users, contacts and
// their channels. The same seed, sizes and label give the same rows (only the server's ids depend
// on what the database already holds), so tests, the benchmark and the demo talk about the same
// data. Everything is inserted with multi-row INSERTs inside one transaction: all or nothing.
import { UserError } from '../errors';
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
  /** A whole number; default 42. */
  seed?: number;
  /** At least 1; default 3. */
  companies?: number;
  /** 0 or more; default 1000. */
  contactsPerCompany?: number;
  /** At least 1; default 2. The first one's role sees only its company. */
  usersPerCompany?: number;
  /** Share of contacts with each channel besides email (every contact has an email channel). */
  smsShare?: number;
  phoneShare?: number;
  otherShare?: number;
  /** Share of channels opted out. */
  optOutShare?: number;
  /** Prefix of company, role and user names, so several generated data sets can share a database. */
  label?: string;
  /** Rows per INSERT statement; default 2000. */
  batchSize?: number;
}

export interface GeneratedData {
  companyIds: number[];
  /** Contact ids per company, in insertion order. */
  contactIds: Map<number, number[]>;
  /** Per company, its first user, whose role's allow-list is that company only. */
  userIds: Map<number, number>;
  /** Every generated user per company, first one first. */
  usersByCompany: Map<number, number[]>;
  /** Per company, its staff role (allow-list: that company). */
  roleIds: Map<number, number>;
  /** A role whose allow-list is every generated company, and a user with it (null for one company). */
  groupRoleId: number | null;
  groupUserId: number | null;
  /** The global role ('administrator', from the reference data) and a user with it. */
  adminRoleId: number;
  adminUserId: number;
  /** Channel rows inserted. */
  channelCount: number;
}

const FIRST = ['Ada', 'Bo', 'Chen', 'Dara', 'Eli', 'Fatima', 'Goran', 'Hana', 'Ines', 'Jonas', 'Kiri', 'Lea', 'Mateo', 'Noor', 'Olu', 'Priya', 'Zoë', '李'];
const LAST = ['Nguyen', 'Okafor', 'Müller', 'García', 'Kowalski', 'Tanaka', 'Haddad', 'Smith', "O'Brien", 'Larsen', 'Rossi', 'Silva', 'Ngata'];
/** Opt-outs fall within the 180 days from this instant: fixed, so rows do not depend on the clock. */
const OPT_OUT_EPOCH = Date.UTC(2026, 0, 1);
const METHOD = { email: 1, sms: 2, phone: 3, other: 4 } as const;

interface Settings {
  seed: number;
  companies: number;
  perCompany: number;
  users: number;
  smsShare: number;
  phoneShare: number;
  otherShare: number;
  optOutShare: number;
  label: string;
  batchSize: number;
}

function settingsOf(options: GenerateOptions): Settings {
  const whole = (name: string, value: number, min: number) => {
    if (!Number.isSafeInteger(value) || value < min) throw new UserError(`generator: ${name} must be a whole number of at least ${min}, got ${value}`);
    return value;
  };
  const share = (name: string, value: number) => {
    if (!(Number.isFinite(value) && value >= 0 && value <= 1)) throw new UserError(`generator: ${name} must be between 0 and 1, got ${value}`);
    return value;
  };
  const seedOf = (value: number) => {
    if (!Number.isSafeInteger(value)) throw new UserError(`generator: seed must be a whole number, got ${value}`);
    return value;
  };
  const label = options.label ?? 'Company';
  if (!label.trim() || label.length > 150) throw new UserError(`generator: label must be 1 to 150 characters, got ${JSON.stringify(label)}`);
  return {
    seed: seedOf(options.seed ?? 42),
    companies: whole('companies', options.companies ?? 3, 1),
    perCompany: whole('contactsPerCompany', options.contactsPerCompany ?? 1000, 0),
    users: whole('usersPerCompany', options.usersPerCompany ?? 2, 1),
    smsShare: share('smsShare', options.smsShare ?? 0.6),
    phoneShare: share('phoneShare', options.phoneShare ?? 0.3),
    otherShare: share('otherShare', options.otherShare ?? 0.05),
    optOutShare: share('optOutShare', options.optOutShare ?? 0.02),
    label,
    batchSize: whole('batchSize', options.batchSize ?? 2000, 1),
  };
}

/** The label as a lowercase e-mail/host fragment: 'Demo company' -> 'demo-company'. */
function slug(label: string): string {
  return label.normalize('NFKD').replace(/[^\x20-\x7e]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
}

async function insertMany(conn: Connection, sql: string, rows: unknown[][], batchSize: number): Promise<void> {
  for (let i = 0; i < rows.length; i += batchSize) await conn.query(sql, [rows.slice(i, i + batchSize)]);
}

async function insertOne(conn: Connection, sql: string, params: unknown[]): Promise<number> {
  const [result] = await conn.query(sql, params) as unknown as [{ insertId: number }];
  return Number(result.insertId);
}

async function idsOf(conn: Connection, table: 'users' | 'contacts', companyId: number, expected: number): Promise<number[]> {
  // A new company's rows come only from this transaction; ids grow in insertion order.
  const ids = (await queryRows<{ id: number }>(conn, `SELECT id FROM ${table} WHERE company_id = ? ORDER BY id`, [companyId])).map((r) => Number(r.id));
  if (ids.length !== expected) throw new Error(`generator: company ${companyId} has ${ids.length} ${table}, expected ${expected}`);
  return ids;
}

/**
 * Inserts the data (10,000 contacts with their channels take about a second) in one transaction,
 * started here: do not call it inside a transaction of your own, which START TRANSACTION would
 * commit. Bad options are a UserError before anything is inserted; a failing insert (e.g. a
 * label already used in this database) rolls everything back.
 */
export async function generateCoreData(conn: Connection, options: GenerateOptions = {}): Promise<GeneratedData> {
  const s = settingsOf(options);
  const random = seededRandom(s.seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const host = `${slug(s.label)}.example.test`;
  const result: GeneratedData = {
    companyIds: [], contactIds: new Map(), userIds: new Map(), usersByCompany: new Map(), roleIds: new Map(),
    groupRoleId: null, groupUserId: null, adminRoleId: 0, adminUserId: 0, channelCount: 0,
  };

  await conn.beginTransaction();
  try {
    // The global role is reference data (seeds/V0020); it is taken as it is, or made if missing.
    result.adminRoleId = await insertOne(conn,
      "INSERT INTO roles (name, is_global) VALUES ('administrator', 1) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)", []);

    for (let c = 0; c < s.companies; c++) {
      const company = `${s.label} ${c + 1}`;
      const companyId = await insertOne(conn, 'INSERT INTO companies (name) VALUES (?)', [company]);
      result.companyIds.push(companyId);
      const roleId = await insertOne(conn, 'INSERT INTO roles (name, is_global) VALUES (?, 0)', [`${company} staff`]);
      result.roleIds.set(companyId, roleId);
      await conn.query('INSERT INTO role_companies (role_id, company_id) VALUES (?, ?)', [roleId, companyId]);

      await insertMany(conn, 'INSERT INTO users (company_id, role_id, email, name) VALUES ?',
        Array.from({ length: s.users }, (_, u) => [companyId, roleId, `user${u + 1}.${c + 1}@${host}`, `${pick(FIRST)} ${pick(LAST)}`]), s.batchSize);
      const users = await idsOf(conn, 'users', companyId, s.users);
      result.usersByCompany.set(companyId, users);
      result.userIds.set(companyId, users[0]);

      await insertMany(conn, 'INSERT INTO contacts (company_id, external_ref, name) VALUES ?',
        Array.from({ length: s.perCompany }, (_, i) => [companyId, `ext-${c + 1}-${i + 1}`, `${pick(FIRST)} ${pick(LAST)}`]), s.batchSize);
      const contacts = await idsOf(conn, 'contacts', companyId, s.perCompany);
      result.contactIds.set(companyId, contacts);

      // Addresses come from the company's and contact's positions, not from server ids, so the
      // rows are the same whatever the database held before.
      const channels: unknown[][] = [];
      const optedOut = () => (random() < s.optOutShare ? new Date(OPT_OUT_EPOCH + Math.floor(random() * 180 * 86_400_000)) : null);
      contacts.forEach((id, i) => {
        const n = c * s.perCompany + i + 1;
        channels.push([id, METHOD.email, `contact${c + 1}.${i + 1}@${host}`, 1, optedOut()]);
        if (random() < s.smsShare) channels.push([id, METHOD.sms, `+1555${String(n % 1e7).padStart(7, '0')}`, 0, optedOut()]);
        if (random() < s.phoneShare) channels.push([id, METHOD.phone, `+1444${String(n % 1e7).padStart(7, '0')}`, 0, optedOut()]);
        if (random() < s.otherShare) channels.push([id, METHOD.other, `chat:${c + 1}-${i + 1}`, 0, optedOut()]);
      });
      await insertMany(conn, 'INSERT INTO contact_channels (contact_id, method_id, address, is_primary, opted_out_at) VALUES ?', channels, s.batchSize);
      result.channelCount += channels.length;
    }

    const firstCompany = result.companyIds[0];
    if (s.companies > 1) {
      result.groupRoleId = await insertOne(conn, 'INSERT INTO roles (name, is_global) VALUES (?, 0)', [`${s.label} group`]);
      await conn.query('INSERT INTO role_companies (role_id, company_id) VALUES ?', [result.companyIds.map((id) => [result.groupRoleId, id])]);
      result.groupUserId = await insertOne(conn, 'INSERT INTO users (company_id, role_id, email, name) VALUES (?, ?, ?, ?)',
        [firstCompany, result.groupRoleId, `group@${host}`, 'Group manager']);
    }
    result.adminUserId = await insertOne(conn, 'INSERT INTO users (company_id, role_id, email, name) VALUES (?, ?, ?, ?)',
      [firstCompany, result.adminRoleId, `admin@${host}`, 'Administrator']);
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => undefined);
    throw err;
  }
  return result;
}

/** Creates a campaign row for a company (the set is created separately by campaign_set_create). */
export async function insertCampaign(conn: Connection, companyId: number, name: string, runType = 'immediate'): Promise<number> {
  const [result] = await conn.query(
    "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, ?, id, 'active' FROM run_types WHERE code = ?",
    [companyId, name, runType]) as unknown as [{ insertId: number; affectedRows: number }];
  if (result.affectedRows !== 1) throw new UserError(`unknown run type "${runType}"`);
  return Number(result.insertId);
}
