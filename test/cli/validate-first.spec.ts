// Validate before changing anything: each command checks all of its inputs before its first
// change, and a bad input is one line, exit 1, with nothing changed (counted on the server).
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows, withDatabase } from '../../tools/sql/connection';
import { ExitCode } from '../../tools/errors';
import { CliResult, runCli } from '../helpers/cli';
import { createCampaign, seedCompany, tableName, usePipelineDatabase, Company } from '../pipeline/helpers';
import { throwawayName } from '../../tools/harness/database';

function expectRefused(r: CliResult, message: RegExp): void {
  expect(r.code, r.stderr).to.equal(ExitCode.Usage);
  // Progress lines may come first (stderr); the error is exactly one line, the last.
  const lines = r.stderr.split('\n').filter(Boolean);
  expect(lines.filter((l) => l.startsWith('reminderly-db: ')), r.stderr).to.have.length(1);
  expect(lines[lines.length - 1]).to.match(/^reminderly-db: /).and.to.match(message);
}

describe('validate before changing anything', function () {
  this.timeout(300_000);
  const db = usePipelineDatabase('validate');
  let conn: Connection;
  let company: Company;
  let work: string;

  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 5);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-validate-'));
  });

  after(async () => {
    await conn?.end().catch(() => conn.destroy());
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const setCount = async () => Number((await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM campaign_sets'))[0].n);

  it('campaign create checks every id before making any set', async () => {
    const [r] = await conn.query(
      "INSERT INTO campaigns (company_id, name, run_type_id, state) SELECT ?, 'no set yet', id, 'active' FROM run_types WHERE code = 'immediate'",
      [company.companyId]) as unknown as [{ insertId: number }];
    const id = Number(r.insertId);
    const before = await setCount();
    expectRefused(runCli(['campaign', 'create', String(id), '424242', '--url', db.url]), /unknown campaign 424242: no set was created/);
    expect(await setCount()).to.equal(before);
    const ok = runCli(['campaign', 'create', String(id), '--url', db.url]);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(await setCount()).to.equal(before + 1);
  });

  it('migrate up --dir must be a project (schema/) before any database is created', async () => {
    const name = throwawayName('nodir');
    const r = runCli(['migrate', 'up', '--dir', path.join(work, 'nowhere'), '--url', withDatabase(db.url, name)]);
    expectRefused(r, /is not a reminderly-db project: it has no schema\/ folder/);
    expect(await queryRows(conn, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name])).to.have.length(0);
  });

  it('invalid UTF-8 in a message file is a rejected row naming line and byte offset, never U+FFFD', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'utf8');
    const messages = await tableName(conn, campaign, 'messages');
    const [c1, c2] = company.contactIds;
    const file = path.join(work, 'bad-utf8.csv');
    fs.writeFileSync(file, Buffer.concat([
      Buffer.from(`contact_id,method,subject,body\n${c1},email,fine,caf\u00e9\n${c2},email,bad,ab`, 'utf8'),
      Buffer.from([0xc3, 0x28]), Buffer.from('z\n', 'utf8'),
    ]));
    const refused = runCli(['messages', 'load', '--campaign', String(campaign), file, '--url', db.url]);
    expectRefused(refused, /1 bad row\(s\), nothing loaded.*row 2 \(line 3\): .*invalid UTF-8 \(byte 0xC3 at byte offset \d+ of the record\)/);
    const count = async () => Number((await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${messages}\``))[0].n);
    expect(await count()).to.equal(0);

    const rejects = path.join(work, 'rejects.csv');
    const loaded = runCli(['messages', 'load', '--campaign', String(campaign), file, '--reject-file', rejects, '--url', db.url]);
    expect(loaded.code, loaded.stderr).to.equal(0);
    expect(await count()).to.equal(1);
    const bodies = (await queryRows<{ body: string }>(conn, `SELECT body FROM \`${messages}\``)).map((r) => r.body);
    expect(bodies, 'the good row as written, no replacement character stored').to.deep.equal(['caf\u00e9']);
    const rejected = fs.readFileSync(rejects);
    expect(rejected.includes(Buffer.from([0x61, 0x62, 0xc3, 0x28, 0x7a])), 'the bad bytes are written back as they were').to.equal(true);
    expect(rejected.includes(Buffer.from([0xef, 0xbf, 0xbd]))).to.equal(false);
  });

  it('--reject-file in a missing folder or naming a folder: one line, nothing loaded', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'rejects');
    const messages = await tableName(conn, campaign, 'messages');
    const file = path.join(work, 'good.csv');
    fs.writeFileSync(file, `contact_id,method,subject,body\n${company.contactIds[0]},email,hi,there\n`);
    for (const target of [path.join(work, 'missing', 'rejects.csv'), work]) {
      expectRefused(runCli(['messages', 'load', '--campaign', String(campaign), file, '--reject-file', target, '--url', db.url]),
        /--reject-file .*: cannot write it: E[A-Z]+/);
    }
    expect(Number((await queryRows<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM \`${messages}\``))[0].n)).to.equal(0);
  });

  it('an --out that cannot be a writable folder is refused at once, before the schema lock (never a hang)', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'out');
    const aFile = path.join(work, 'a-file');
    fs.writeFileSync(aFile, 'x');
    for (const out of ['/proc/x', path.join(aFile, 'sub'), aFile]) {
      expectRefused(runCli(['campaign', 'retire', String(campaign), '--out', out, '--url', db.url]), /^reminderly-db: --out /);
      expectRefused(runCli(['maintenance', 'offload', '--older-than', '30d', '--out', out, '--url', db.url]), /^reminderly-db: --out /);
    }
    const [{ n }] = await queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM campaign_sets WHERE campaign_id = ?', [campaign]);
    expect(Number(n), 'the set is still there').to.equal(1);
  });
});
