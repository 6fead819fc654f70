// The seeded generator on throwaway databases built from the data model's own files (schema and
// reference data, V0001-V0029) through the SQL runner: the generator needs nothing else, so a
// change elsewhere (pipeline versions, routines) cannot break these tests.
import { expect } from 'chai';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { generateCoreData, GeneratedData, insertCampaign, seededRandom } from '../../tools/campaigns/generator';
import { discoverMigrations } from '../../tools/migrate/sources';
import { runSqlFile } from '../../tools/sql/runner';
import { Connection, queryRows } from '../../tools/sql/connection';
import { UserError } from '../../tools/errors';
import { rejection } from '../helpers/rejection';

/** The data model's versions: core schema (V0001-V0009), templates (V0010-V0019), reference data (V0020-V0029). */
const DATA_MODEL_LAST_VERSION = 29;

function useDataModelDatabase(label: string): { db: ThrowawayDatabase; conn: () => Connection } {
  const db = {} as ThrowawayDatabase;
  let conn: Connection | undefined;
  before(async function () {
    this.timeout(120_000);
    Object.assign(db, await createThrowawayDatabase(label));
    conn = await db.connect();
    for (const source of discoverMigrations()) {
      if (source.kind === 'versioned' && source.version! <= DATA_MODEL_LAST_VERSION) await runSqlFile(conn, source.path);
    }
  });
  after(async () => {
    await conn?.end().catch(() => undefined);
    if (db.drop) await db.drop();
  });
  return { db, conn: () => conn! };
}

/** Every generated row (creation times left out), in one comparable string per table. */
async function fingerprint(conn: Connection): Promise<Record<string, string>> {
  const tables: Record<string, string> = {
    companies: 'id, name',
    roles: 'id, name, is_global',
    role_companies: 'role_id, company_id',
    users: 'id, company_id, role_id, email, name',
    contacts: 'id, company_id, external_ref, name',
    contact_channels: 'contact_id, method_id, address, is_primary, opted_out_at',
  };
  const out: Record<string, string> = {};
  for (const [table, columns] of Object.entries(tables)) {
    const [row] = await queryRows<{ n: number; digest: string | null }>(conn,
      `SELECT COUNT(*) AS n, SHA2(GROUP_CONCAT(CONCAT_WS('|', ${columns}) ORDER BY ${columns} SEPARATOR '\\n'), 256) AS digest FROM ${table}`);
    out[table] = `${row.n} ${row.digest}`;
  }
  return out;
}

async function counts(conn: Connection): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['companies', 'roles', 'role_companies', 'users', 'contacts', 'contact_channels']) {
    const [row] = await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${table}`);
    out[table] = Number(row.n);
  }
  return out;
}

function plain(data: GeneratedData): unknown {
  return JSON.parse(JSON.stringify(data, (_, v) => (v instanceof Map ? [...v.entries()] : v)));
}

describe('seeded data generator', () => {
  const first = useDataModelDatabase('gen1');
  const second = useDataModelDatabase('gen2');
  let data: GeneratedData;

  it('draws the same numbers from the same seed, others from another', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const draws = Array.from({ length: 100 }, () => [a(), b(), c()]);
    expect(draws.map((d) => d[0])).to.deep.equal(draws.map((d) => d[1]));
    expect(draws.map((d) => d[0])).not.to.deep.equal(draws.map((d) => d[2]));
    expect(draws.every((d) => d[0] >= 0 && d[0] < 1)).to.equal(true);
  });

  it('inserts 10,000 contacts with their channels in a couple of seconds, the same rows for the same seed', async () => {
    const results: GeneratedData[] = [];
    const prints: Record<string, string>[] = [];
    for (const db of [first, second]) {
      const started = Date.now();
      results.push(await generateCoreData(db.conn(), { seed: 1234, companies: 2, contactsPerCompany: 5000 }));
      const ms = Date.now() - started;
      console.log(`      10,000 contacts, ${results[results.length - 1].channelCount} channels in ${ms} ms`);
      expect(ms, 'generation time').to.be.below(10_000);
      prints.push(await fingerprint(db.conn()));
    }
    // Both databases were empty, so even the ids agree.
    expect(prints[0]).to.deep.equal(prints[1]);
    expect(plain(results[0])).to.deep.equal(plain(results[1]));
    data = results[0];
  });

  it('returns the ids of what it made, and the shape asked for', async () => {
    const conn = first.conn();
    expect(data.companyIds).to.have.length(2);
    for (const companyId of data.companyIds) {
      const contactIds = data.contactIds.get(companyId)!;
      expect(contactIds).to.have.length(5000);
      const [owned] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM contacts WHERE company_id = ? AND id IN (?)', [companyId, contactIds]);
      expect(Number(owned.n)).to.equal(5000);
      expect(data.usersByCompany.get(companyId)).to.have.length(2);
      expect(data.userIds.get(companyId)).to.equal(data.usersByCompany.get(companyId)![0]);
      // The staff user's role lists exactly its company.
      const allowed = await queryRows<{ company_id: number }>(conn,
        'SELECT rc.company_id FROM users u JOIN role_companies rc ON rc.role_id = u.role_id WHERE u.id = ?', [data.userIds.get(companyId)]);
      expect(allowed.map((r) => Number(r.company_id))).to.deep.equal([companyId]);
    }
    const group = await queryRows<{ company_id: number }>(conn, 'SELECT company_id FROM role_companies WHERE role_id = ? ORDER BY company_id', [data.groupRoleId]);
    expect(group.map((r) => Number(r.company_id))).to.deep.equal(data.companyIds);
    const [admin] = await queryRows<{ is_global: number; name: string }>(conn,
      'SELECT r.is_global, r.name FROM users u JOIN roles r ON r.id = u.role_id WHERE u.id = ?', [data.adminUserId]);
    expect(admin).to.deep.equal({ is_global: 1, name: 'administrator' });

    // Every contact has exactly one e-mail channel, the primary one; the other methods by share.
    const perMethod = await queryRows<{ method: string; n: number; primaries: number; opted: number }>(conn,
      `SELECT m.code AS method, COUNT(*) AS n, SUM(ch.is_primary) AS primaries, SUM(ch.opted_out_at IS NOT NULL) AS opted
         FROM contact_channels ch JOIN contact_methods m ON m.id = ch.method_id GROUP BY m.code ORDER BY m.code`);
    const byMethod = Object.fromEntries(perMethod.map((r) => [r.method, { n: Number(r.n), primaries: Number(r.primaries), opted: Number(r.opted) }]));
    expect(Object.keys(byMethod)).to.deep.equal(['email', 'other', 'phone', 'sms']);
    expect(byMethod.email).to.include({ n: 10_000, primaries: 10_000 });
    expect(byMethod.sms.n / 10_000).to.be.within(0.57, 0.63);
    expect(byMethod.phone.n / 10_000).to.be.within(0.27, 0.33);
    expect(byMethod.other.n / 10_000).to.be.within(0.03, 0.07);
    expect(byMethod.sms.primaries + byMethod.phone.primaries + byMethod.other.primaries).to.equal(0);
    const channels = Object.values(byMethod).reduce((n, m) => n + m.n, 0);
    expect(channels).to.equal(data.channelCount);
    const opted = Object.values(byMethod).reduce((n, m) => n + m.opted, 0);
    expect(opted / channels).to.be.within(0.01, 0.03);
    const [range] = await queryRows<{ earliest: Date; latest: Date }>(conn,
      'SELECT MIN(opted_out_at) AS earliest, MAX(opted_out_at) AS latest FROM contact_channels');
    expect(range.earliest.getTime()).to.be.at.least(Date.UTC(2026, 0, 1));
    expect(range.latest.getTime()).to.be.below(Date.UTC(2026, 0, 1) + 180 * 86_400_000);
  });

  it('gives the same rows, ids aside, on a database that already holds data; another seed gives others', async () => {
    const names = async (conn: Connection, label: string) => (await queryRows<{ v: string }>(conn,
      `SELECT CONCAT_WS('|', c.name, ct.external_ref, ct.name, ch.method_id, ch.address, ch.is_primary, COALESCE(ch.opted_out_at, '-')) AS v
         FROM companies c JOIN contacts ct ON ct.company_id = c.id JOIN contact_channels ch ON ch.contact_id = ct.id
        WHERE c.name LIKE CONCAT(?, ' %') ORDER BY c.id, ct.id, ch.method_id`, [label])).map((r) => r.v);
    await generateCoreData(first.conn(), { seed: 5, companies: 1, contactsPerCompany: 200, label: 'Later' });
    // The second database gets another data set first, so its ids for 'Later' differ.
    await generateCoreData(second.conn(), { seed: 6, companies: 1, contactsPerCompany: 200, label: 'Other seed' });
    await generateCoreData(second.conn(), { seed: 5, companies: 1, contactsPerCompany: 200, label: 'Later' });
    const firstIds = async (conn: Connection) => (await queryRows<{ id: number }>(conn,
      "SELECT MIN(ct.id) AS id FROM contacts ct JOIN companies c ON c.id = ct.company_id WHERE c.name = 'Later 1'"))[0].id;
    expect(await firstIds(second.conn())).to.not.equal(await firstIds(first.conn()));
    const later1 = await names(first.conn(), 'Later');
    expect(later1).to.have.length.above(200);
    expect(await names(second.conn(), 'Later')).to.deep.equal(later1);
    const otherSeed = (await names(second.conn(), 'Other seed')).map((v) => v.replace(/^Other seed/, 'Later'));
    expect(otherSeed).to.not.deep.equal(later1);
  });

  it('is all or nothing: a failure part-way leaves no row behind', async () => {
    const conn = second.conn();
    // Company 2 of this label exists already, so the run fails after company 1 is fully inserted.
    await conn.query("INSERT INTO companies (name) VALUES ('Clash 2')");
    const before = await counts(conn);
    const err = await rejection(generateCoreData(conn, { seed: 1, companies: 2, contactsPerCompany: 300, label: 'Clash' }));
    expect((err as { code?: string }).code).to.equal('ER_DUP_ENTRY');
    expect(await counts(conn)).to.deep.equal(before);
  });

  it('refuses bad options before inserting anything', async () => {
    const conn = second.conn();
    const before = await counts(conn);
    const bad: [object, RegExp][] = [
      [{ companies: 0 }, /companies must be a whole number of at least 1, got 0/],
      [{ companies: 1.5 }, /companies must be a whole number/],
      [{ contactsPerCompany: -1 }, /contactsPerCompany must be a whole number of at least 0, got -1/],
      [{ usersPerCompany: 0 }, /usersPerCompany must be a whole number of at least 1/],
      [{ seed: Number.NaN }, /seed must be a whole number, got NaN/],
      [{ smsShare: 1.5 }, /smsShare must be between 0 and 1, got 1.5/],
      [{ optOutShare: -0.1 }, /optOutShare must be between 0 and 1/],
      [{ label: ' ' }, /label must be 1 to 150 characters/],
      [{ batchSize: 0 }, /batchSize must be a whole number of at least 1/],
    ];
    for (const [options, message] of bad) {
      const err = await rejection(generateCoreData(conn, { label: 'Never', ...options }));
      expect(err, JSON.stringify(options)).to.be.instanceOf(UserError);
      expect(err.message).to.match(message);
    }
    expect(await counts(conn)).to.deep.equal(before);
  });

  it('insertCampaign makes a campaign of a company, and refuses an unknown run type', async () => {
    const conn = first.conn();
    const id = await insertCampaign(conn, data.companyIds[1], "spring `; DROP TABLE companies; -- '", 'scheduled');
    const [row] = await queryRows<{ company_id: number; code: string; state: string }>(conn,
      'SELECT c.company_id, r.code, c.state FROM campaigns c JOIN run_types r ON r.id = c.run_type_id WHERE c.id = ?', [id]);
    expect(row).to.deep.equal({ company_id: data.companyIds[1], code: 'scheduled', state: 'active' });
    const err = await rejection(insertCampaign(conn, data.companyIds[1], 'weekly one', 'weekly'));
    expect(err).to.be.instanceOf(UserError);
    expect(err.message).to.equal('unknown run type "weekly"');
  });
});
