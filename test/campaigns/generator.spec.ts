import { expect } from 'chai';
import { useThrowawayDatabase } from '../../tools/harness/database';
import { generateCoreData, seededRandom } from '../../tools/campaigns/generator';
import { queryRows } from '../../tools/sql/connection';

describe('seeded data generator', () => {
  const first = useThrowawayDatabase({ label: 'gen1', migrated: true });
  const second = useThrowawayDatabase({ label: 'gen2', migrated: true });

  it('draws the same numbers from the same seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const draws = Array.from({ length: 5 }, () => [a(), b(), c()]);
    expect(draws.map((d) => d[0])).to.deep.equal(draws.map((d) => d[1]));
    expect(draws.map((d) => d[0])).not.to.deep.equal(draws.map((d) => d[2]));
  });

  it('gives the same rows for the same seed and size, 10,000 contacts quickly', async () => {
    const summaries = [];
    for (const db of [first, second]) {
      const conn = await db.connect();
      try {
        const started = Date.now();
        const data = await generateCoreData(conn, { seed: 1234, companies: 2, contactsPerCompany: 5000 });
        console.log(`      10,000 contacts with channels in ${Date.now() - started} ms`);
        expect(data.companyIds).to.have.length(2);
        expect([...data.contactIds.values()].reduce((n, ids) => n + ids.length, 0)).to.equal(10_000);
        const [contacts] = await queryRows<{ n: number; names: string }>(conn,
          "SELECT COUNT(*) AS n, SHA2(GROUP_CONCAT(CONCAT_WS('|', company_id, external_ref, name) ORDER BY id SEPARATOR '\\n'), 256) AS names FROM contacts");
        const [channels] = await queryRows<{ n: number; opted: number; methods: string }>(conn,
          "SELECT COUNT(*) AS n, SUM(opted_out_at IS NOT NULL) AS opted, GROUP_CONCAT(DISTINCT method_id ORDER BY method_id) AS methods FROM contact_channels");
        summaries.push({ contacts, channels });
      } finally {
        await conn.end();
      }
    }
    expect(summaries[0]).to.deep.equal(summaries[1]);
    expect(Number(summaries[0].channels.n)).to.be.greaterThan(10_000);
    expect(summaries[0].channels.methods).to.equal('1,2,3');
  });
});
