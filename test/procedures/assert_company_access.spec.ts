import { Connection } from '../../tools/sql/connection';
import { expectSignal, seedCompany, usePipelineDatabase, Company } from '../pipeline/helpers';

describe('assert_company_access', () => {
  const db = usePipelineDatabase('access');
  let conn: Connection;
  let a: Company;
  let b: Company;
  before(async () => {
    conn = await db.connect();
    a = await seedCompany(conn, 1);
    b = await seedCompany(conn, 1);
  });
  after(async () => { await conn?.end(); });
  const check = (user: number | null, company: number | null) => conn.query('CALL assert_company_access(?, ?)', [user, company]);

  it('lets a role see the companies on its allow-list, and a global role every company', async () => {
    await check(a.allowedUser, a.companyId);
    await check(a.globalUser, a.companyId);
    await check(a.globalUser, b.companyId);
  });

  it('denies every other company, even the user\'s own when its role does not list it', async () => {
    await expectSignal(() => check(a.allowedUser, b.companyId), new RegExp(`^access denied: user ${a.allowedUser} may not see company ${b.companyId}$`));
    await expectSignal(() => check(a.deniedUser, a.companyId), new RegExp(`^access denied: user ${a.deniedUser} may not see company ${a.companyId}$`));
    await expectSignal(() => check(987654321, a.companyId), /^access denied: user_id 987654321 does not exist$/);
    await expectSignal(() => check(null, a.companyId), /^assert_company_access: user_id and company_id must be given$/);
  });
});
