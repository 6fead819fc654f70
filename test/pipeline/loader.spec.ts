import { expect } from 'chai';
import { Command } from 'commander';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Connection, queryRows } from '../../tools/sql/connection';
import { detectServer } from '../../tools/sql/flavour';
import { AlreadyLoaded, loadMessages, LoadRejected, parseTimestamp } from '../../tools/pipeline/loader';
import { registerMessagesCommands } from '../../tools/pipeline/command';
import { runCli } from '../helpers/cli';
import { checksums, createCampaign, seedCompany, tableName, usePipelineDatabase, Company } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-loader-'));
const file = (name: string, content: string) => {
  const full = path.join(tmp, name);
  fs.writeFileSync(full, content);
  return full;
};

describe('messages loader', () => {
  const db = usePipelineDatabase('loader');
  let conn: Connection;
  let company: Company;
  let other: Company;
  let localInfile: boolean;
  before(async () => {
    conn = await db.connect();
    company = await seedCompany(conn, 20);
    other = await seedCompany(conn, 2);
    localInfile = (await detectServer(conn)).localInfile;
  });
  after(async () => {
    await conn?.end();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const withSms = () => company.contactIds.filter((id) => id % 2 === 1);
  const emailOnly = () => company.contactIds.filter((id) => id % 2 === 0);
  const rowsOf = async (campaign: number) => queryRows<Record<string, unknown>>(conn,
    `SELECT contact_id, method_id, packet, DATE_FORMAT(send_after, '%Y-%m-%d %H:%i:%s.%f') AS send_after, subject, body, ready_at
       FROM \`${await tableName(conn, campaign, 'messages')}\` ORDER BY id`);

  it('parses timestamps as UTC, honouring offsets, and refuses what is not a date', () => {
    expect(parseTimestamp('2026-03-01 09:30')).to.equal('2026-03-01 09:30:00.000');
    expect(parseTimestamp('2026-03-01T09:30:15.5Z')).to.equal('2026-03-01 09:30:15.500');
    expect(parseTimestamp('2026-03-01T09:30:00+02:00')).to.equal('2026-03-01 07:30:00.000');
    expect(parseTimestamp('2026-03-01')).to.equal('2026-03-01 00:00:00.000');
    for (const bad of ['tomorrow', '2026-02-30 10:00', '2026-13-01', '01/03/2026', '2026-03-01 25:00']) expect(parseTimestamp(bad), bad).to.equal(null);
  });

  it('loads a CSV file by the path the server allows, quoting and time zones intact', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'csv');
    const [c1, c2] = [withSms()[0], emailOnly()[0]];
    const csv = file('ok.csv', '\uFEFFcontact_id,method,packet,send_after,subject,body\r\n' +
      `${c1},email,3,2026-03-01T09:30:00+02:00,"Hello, ""friend""","line one\nline two"\r\n` +
      `${c2},EMAIL,,,plain,\\back\tslash\r\n` +
      `${c1},sms,4,2026-03-02 08:00,"",\r\n`);
    const result = await loadMessages({ url: db.url, campaignId: campaign, file: csv, progress: 'none', packet: 9, log: () => undefined });
    expect(result).to.include({ rows: 3, loaded: 3, rejected: 0, path: localInfile ? 'load-data' : 'insert' });
    expect(result.pathReason).to.equal(localInfile ? 'the server allows local infile' : 'the server has local_infile=OFF');
    expect(await rowsOf(campaign)).to.deep.equal([
      { contact_id: c1, method_id: 1, packet: 3, send_after: '2026-03-01 07:30:00.000000', subject: 'Hello, "friend"', body: 'line one\nline two', ready_at: null },
      { contact_id: c2, method_id: 1, packet: 9, send_after: null, subject: 'plain', body: '\\back\tslash', ready_at: null },
      { contact_id: c1, method_id: 2, packet: 4, send_after: '2026-03-02 08:00:00.000000', subject: '', body: null, ready_at: null },
    ]);
  });

  it('loads the same rows by LOAD DATA and by INSERT batches', async function () {
    if (!localInfile) this.skip();
    const lines = ['contact_id,method,packet,send_after,subject,body'];
    for (let i = 0; i < 2500; i++) lines.push(`${company.contactIds[i % 20]},email,${i % 3},2026-04-0${1 + (i % 9)} 10:00:0${i % 10}.${i % 1000},s${i},"b,${i}"`);
    const csv = file('many.csv', lines.join('\n') + '\n');
    const a = await createCampaign(conn, company.companyId, 'by load data');
    const b = await createCampaign(conn, company.companyId, 'by insert');
    expect((await loadMessages({ url: db.url, campaignId: a, file: csv, path: 'load-data', progress: 'none', log: () => undefined })).loaded).to.equal(2500);
    expect((await loadMessages({ url: db.url, campaignId: b, file: csv, path: 'insert', batchRows: 700, progress: 'none', log: () => undefined })).loaded).to.equal(2500);
    expect(await rowsOf(a)).to.deep.equal(await rowsOf(b));
  });

  it('loads JSON Lines', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'jsonl');
    const c = withSms()[1];
    const jsonl = file('ok.jsonl', `{"contact_id": ${c}, "method": "sms", "packet": 2, "subject": "Hi", "body": "Tab\\tand é"}\n\n` +
      `{"contact_id": "${c}", "method": "email", "send_after": "2026-05-01T00:00:00Z"}\n`);
    const result = await loadMessages({ url: db.url, campaignId: campaign, file: jsonl, path: 'insert', progress: 'none', log: () => undefined });
    expect(result).to.include({ rows: 2, loaded: 2, path: 'insert', pathReason: 'chosen by the caller' });
    expect((await rowsOf(campaign)).map((r) => [r.method_id, r.packet, r.body])).to.deep.equal([[2, 2, 'Tab\tand é'], [1, 0, null]]);
  });

  const badCsv = () => {
    const [c1, c2] = [withSms()[0], emailOnly()[0]];
    return file('bad.csv', 'contact_id,method,packet,send_after,subject,body\n' +
      `${c1},email,1,,good one,\n` +
      `${other.contactIds[0]},email,1,,other company,\n` +
      `999999999,email,1,,unknown contact,\n` +
      `${c1},fax,1,,unknown method,\n` +
      `${c2},sms,1,,no sms channel,\n` +
      `${c1},email,1,next tuesday,bad date,\n` +
      `${c1},email,1,,${'x'.repeat(201)},\n` +
      `${c1},email,1,,too many,fields,here\n` +
      `${c1},email,-1,,bad packet,\n` +
      `${c1},email,1,,good two,\n`);
  };
  const expectedProblems = () => [
    { row: 2, line: 3, reason: `contact ${other.contactIds[0]} is not a contact of company ${company.companyId}` },
    { row: 3, line: 4, reason: `contact 999999999 is not a contact of company ${company.companyId}` },
    { row: 4, line: 5, reason: 'unknown method "fax" (expected email, sms, phone, other)' },
    { row: 5, line: 6, reason: `contact ${emailOnly()[0]} has no sms channel` },
    { row: 6, line: 7, reason: 'send_after "next tuesday" is not a date and time (YYYY-MM-DD HH:MM[:SS[.fff]][Z|+hh:mm])' },
    { row: 7, line: 8, reason: 'subject is 201 characters, at most 200' },
    { row: 8, line: 9, reason: 'record has 7 fields, the header has 6' },
    { row: 9, line: 10, reason: 'packet "-1" is not a whole number from 0 to 4294967295' },
  ];

  for (const pathName of ['load-data', 'insert'] as const) {
    it(`one bad row rejects the whole load, listing the rows at fault (${pathName})`, async function () {
      if (pathName === 'load-data' && !localInfile) this.skip();
      const campaign = await createCampaign(conn, company.companyId, `reject ${pathName}`);
      const before = await checksums(conn, campaign);
      try {
        await loadMessages({ url: db.url, campaignId: campaign, file: badCsv(), path: pathName, progress: 'none', log: () => undefined });
        expect.fail('the load should have been rejected');
      } catch (err) {
        expect(err).to.be.instanceOf(LoadRejected);
        const rejected = err as LoadRejected;
        expect(rejected.problems.map(({ row, line, reason }) => ({ row, line, reason }))).to.deep.equal(expectedProblems());
        expect(rejected.message).to.match(/8 bad row\(s\), nothing loaded/).and.match(/row 2 \(line 3\): contact/);
      }
      expect(await checksums(conn, campaign)).to.deep.equal(before);
    });
  }

  it('with a reject file: loads the good rows and writes the bad ones, with reasons, in the input\'s format', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'reject file');
    const rejects = path.join(tmp, 'rejects.csv');
    const result = await loadMessages({ url: db.url, campaignId: campaign, file: badCsv(), rejectFile: rejects, progress: 'none', log: () => undefined });
    expect(result).to.include({ rows: 10, loaded: 2, rejected: 8 });
    expect((await rowsOf(campaign)).map((r) => r.subject)).to.deep.equal(['good one', 'good two']);
    const lines = fs.readFileSync(rejects, 'utf8').trimEnd().split('\n');
    expect(lines[0]).to.equal('contact_id,method,packet,send_after,subject,body,reject_reason');
    expect(lines).to.have.length(9);
    expect(lines[1]).to.equal(`${other.contactIds[0]},email,1,,other company,,"contact ${other.contactIds[0]} is not a contact of company ${company.companyId}"`);
    // The reject file, once fixed, loads as is (its reject_reason column is ignored).
    const fixed = file('fixed.csv', [lines[0], `${company.contactIds[4]},email,1,,fixed,,"was wrong"`].join('\n') + '\n');
    expect((await loadMessages({ url: db.url, campaignId: campaign, file: fixed, progress: 'none', log: () => undefined })).loaded).to.equal(1);
  });

  it('JSON Lines problems: bad JSON, not an object, unknown field, oversized body', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'bad jsonl');
    const c = company.contactIds[1];
    const jsonl = file('bad.jsonl', [
      `{"contact_id": ${c}, "method": "email"}`,
      `{"contact_id": ${c}, "method": "email"`,
      '[1, 2]',
      `{"contact_id": ${c}, "method": "email", "colour": "red"}`,
      `{"contact_id": ${c}, "method": "email", "body": "${'é'.repeat(40_000)}"}`,
    ].join('\n'));
    try {
      await loadMessages({ url: db.url, campaignId: campaign, file: jsonl, progress: 'none', log: () => undefined });
      expect.fail('should be rejected');
    } catch (err) {
      expect((err as LoadRejected).problems.map((p) => [p.row, p.reason.replace(/ \(.*\)$/, '')])).to.deep.equal([
        [2, 'record is not valid JSON'], [3, 'record is not a JSON object'], [4, 'unknown field "colour"'], [5, 'body is 80000 bytes, at most 65535'],
      ]);
    }
  });

  it('refuses an unknown campaign, a missing file and a wrong extension before reading anything', async () => {
    const csv = file('one.csv', `contact_id,method\n${company.contactIds[1]},email\n`);
    await loadMessages({ url: db.url, campaignId: 987654321, file: csv, progress: 'none' }).then(() => expect.fail(), (e: Error) => expect(e.message).to.equal('campaign 987654321 does not exist'));
    await loadMessages({ url: db.url, campaignId: 1, file: path.join(tmp, 'nope.csv'), progress: 'none' }).then(() => expect.fail(), (e: Error) => expect(e.message).to.match(/no such file/));
    await loadMessages({ url: db.url, campaignId: 1, file: path.join(tmp, 'x.xlsx'), progress: 'none' }).then(() => expect.fail(), (e: Error) => expect(e.message).to.match(/expected a \.csv or \.jsonl file/));
  });

  it('`messages load` prints what it loaded and which path it took', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'cli');
    const csv = file('cli.csv', `contact_id,method\n${emailOnly()[1]},email\n${withSms()[1]},sms\n`);
    const program = new Command('reminderly-db').exitOverride();
    registerMessagesCommands(program);
    let out = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => { out += chunk; return true; }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'reminderly-db', 'messages', 'load', '--campaign', String(campaign), csv, '--url', db.url, '--json']);
    } finally {
      process.stdout.write = write;
    }
    const printed = JSON.parse(out) as { loaded: number; path: string; pathReason: string };
    expect(printed).to.include({ loaded: 2, path: localInfile ? 'load-data' : 'insert' });
    expect((await rowsOf(campaign))).to.have.length(2);
  });

  it('refreshes the messages table\'s statistics when done (ANALYZE TABLE), even with automatic recalculation off', async () => {
    const campaign = await createCampaign(conn, company.companyId, 'stats');
    const table = await tableName(conn, campaign, 'messages');
    await conn.query(`ALTER TABLE \`${table}\` STATS_AUTO_RECALC = 0`);
    const nRows = async () => Number((await queryRows<{ n: number }>(conn,
      'SELECT n_rows AS n FROM mysql.innodb_table_stats WHERE database_name = DATABASE() AND table_name = ?', [table]))[0].n);
    expect(await nRows()).to.equal(0);
    const rows = emailOnly().slice(0, 8).map((id) => `${id},email`).join('\n');
    await loadMessages({ url: db.url, campaignId: campaign, file: file('stats.csv', `contact_id,method\n${rows}\n`), progress: 'none', log: () => undefined });
    expect(await nRows()).to.equal(8);
  });

  describe('repeated loads', () => {
    const count = async (campaign: number) => Number((await queryRows<{ n: number }>(conn,
      `SELECT COUNT(*) AS n FROM \`${await tableName(conn, campaign, 'messages')}\``))[0].n);
    const loads = async (campaign: number) => queryRows<{ file_name: string; rows_read: number; rows_loaded: number; again: number }>(conn,
      'SELECT file_name, rows_read, rows_loaded, again FROM message_loads WHERE campaign_id = ? ORDER BY id', [campaign]);

    it('refuses the same content a second time, renamed or not, naming the earlier load; --again loads it', async () => {
      const campaign = await createCampaign(conn, company.companyId, 'twice');
      const content = `contact_id,method\n${emailOnly()[0]},email\n${emailOnly()[1]},email\n${withSms()[0]},sms\n`;
      const first = file('twice.csv', content);
      const result = await loadMessages({ url: db.url, campaignId: campaign, file: first, progress: 'none', log: () => undefined });
      expect(result).to.include({ loaded: 3, bytes: Buffer.byteLength(content) });
      const before = await checksums(conn, campaign);
      for (const again of [first, file('renamed.csv', content)]) {
        const err = await loadMessages({ url: db.url, campaignId: campaign, file: again, progress: 'none', log: () => undefined }).then(() => null, (e: Error) => e);
        expect(err).to.be.instanceOf(AlreadyLoaded);
        expect(err!.message.split('\n')).to.have.length(1);
        expect(err!.message).to.match(new RegExp(`^${again.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: this content was already loaded into campaign ${campaign} at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(load ${result.loadId}, 3 rows, from twice.csv\\); nothing loaded \\(use --again`));
      }
      expect(await count(campaign)).to.equal(3);
      expect(await checksums(conn, campaign)).to.deep.equal(before);
      // other content, and the same content into another campaign, are new loads
      await loadMessages({ url: db.url, campaignId: campaign, file: file('more.csv', content + `${emailOnly()[2]},email\n`), progress: 'none', log: () => undefined });
      const second = await createCampaign(conn, company.companyId, 'twice-other');
      await loadMessages({ url: db.url, campaignId: second, file: first, progress: 'none', log: () => undefined });
      expect(await count(second)).to.equal(3);
      const forced = await loadMessages({ url: db.url, campaignId: campaign, file: first, progress: 'none', log: () => undefined, again: true });
      expect(forced.loaded).to.equal(3);
      expect(await count(campaign)).to.equal(3 + 4 + 3);
      expect(await loads(campaign)).to.deep.equal([
        { file_name: 'twice.csv', rows_read: 3, rows_loaded: 3, again: 0 },
        { file_name: 'more.csv', rows_read: 4, rows_loaded: 4, again: 0 },
        { file_name: 'twice.csv', rows_read: 3, rows_loaded: 3, again: 1 },
      ]);
    });

    it('a rejected load records nothing, so the fixed file loads; a reject-file load records what it loaded', async () => {
      const campaign = await createCampaign(conn, company.companyId, 'partial');
      const bad = file('partial.csv', `contact_id,method\n${emailOnly()[0]},email\n${emailOnly()[0]},pigeon\n`);
      await loadMessages({ url: db.url, campaignId: campaign, file: bad, progress: 'none', log: () => undefined }).then(() => expect.fail(), (e: Error) => expect(e).to.be.instanceOf(LoadRejected));
      expect(await count(campaign)).to.equal(0);
      expect(await loads(campaign)).to.deep.equal([]);
      await loadMessages({ url: db.url, campaignId: campaign, file: bad, rejectFile: path.join(tmp, 'partial.rejects.csv'), progress: 'none', log: () => undefined });
      expect(await count(campaign)).to.equal(1);
      expect(await loads(campaign)).to.deep.equal([{ file_name: 'partial.csv', rows_read: 2, rows_loaded: 1, again: 0 }]);
      await loadMessages({ url: db.url, campaignId: campaign, file: bad, rejectFile: path.join(tmp, 'partial.rejects.csv'), progress: 'none', log: () => undefined })
        .then(() => expect.fail(), (e: Error) => expect(e).to.be.instanceOf(AlreadyLoaded));
      expect(await count(campaign)).to.equal(1);
    });

    it('`messages load` run twice: the second run exits 1 with one line on stderr and loads nothing; --again loads', async () => {
      const campaign = await createCampaign(conn, company.companyId, 'cli-twice');
      const csv = file('cli-twice.csv', `contact_id,method\n${emailOnly()[3]},email\n${withSms()[3]},sms\n`);
      const args = ['messages', 'load', '--campaign', String(campaign), csv, '--url', db.url];
      expect(runCli(args).code).to.equal(0);
      const second = runCli(args);
      expect(second.code).to.equal(1);
      expect(second.stderr.trimEnd().split('\n')).to.have.length(1);
      expect(second.stderr).to.match(/already loaded into campaign \d+ at .* UTC \(load \d+, 2 rows, from cli-twice.csv\)/);
      expect(await count(campaign)).to.equal(2);
      expect(runCli([...args, '--again']).code).to.equal(0);
      expect(await count(campaign)).to.equal(4);
    });
  });
});
