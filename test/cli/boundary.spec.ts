// The error boundary as a user meets it: every command driven into each failure kind prints one
// error line ("reminderly-db: ..."), never a stack trace, exits with the documented code, and never
// shows the password planted in its URL (--url, REMINDERLY_PROD_URL, DATABASE_URL, --replica) in
// any byte of stdout, stderr or any file it wrote.
import { expect } from 'chai';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { createThrowawayDatabase, ThrowawayDatabase } from '../../tools/harness/database';
import { queryRows, withConnection } from '../../tools/sql/connection';
import { ExitCode } from '../../tools/errors';
import { exitCodeFor } from '../../tools/cli';
import { runCli, runCliMany, CliResult } from '../helpers/cli';

const PASSWORD = 'Pl4nted-S3cret';
const ENCODED = encodeURIComponent(PASSWORD);

/** Every byte of every file under dir, as text. */
function filesText(dir: string): string {
  let text = '';
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true } as { withFileTypes: true; recursive: true })) {
    const full = path.join((entry as fs.Dirent & { parentPath?: string; path?: string }).parentPath ?? (entry as { path: string }).path, entry.name);
    if (entry.isFile()) text += fs.readFileSync(full, 'latin1');
  }
  return text;
}

function expectOneErrorLine(r: CliResult, what: string, exactlyOneLine: boolean): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const errors = lines.filter((l) => l.startsWith('reminderly-db: '));
  expect(errors, `${what}: ${r.stderr}`).to.have.length(1);
  expect(lines[lines.length - 1], `${what}: the error is the last line`).to.equal(errors[0]);
  expect(lines.filter((l) => /^\s+at /.test(l) || /^\w*Error:/.test(l)), `${what}: no stack trace`).to.deep.equal([]);
  if (exactlyOneLine) expect(lines, `${what}: ${r.stderr}`).to.have.length(1);
}

describe('CLI error boundary: one line, the right code, no secret', function () {
  this.timeout(900_000);
  let db: ThrowawayDatabase;
  let work: string;
  const lowUser = `rdbtc${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  let serverHost: string;

  before(async () => {
    db = await createThrowawayDatabase('boundary');
    const url = new URL(db.url);
    serverHost = url.host;
    // An account with the planted password that may read the (empty) database and nothing else:
    // every command gets past connecting and fails on the server mid-command.
    await withConnection(db.serverUrl, async (conn) => {
      await conn.query("CREATE USER ?@'%' IDENTIFIED BY ?", [lowUser, PASSWORD]);
      await conn.query(`GRANT SELECT ON \`${db.name}\`.* TO ?@'%'`, [lowUser]);
    }, { database: null });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-boundary-'));
    fs.writeFileSync(path.join(work, 'messages.csv'), 'contact_id,method,subject,body\n1,email,hi,there\n');
    fs.writeFileSync(path.join(work, 'one.sql'), 'SELECT 1;\n');
  });

  after(async () => {
    await withConnection(db.serverUrl, async (conn) => {
      const rows = await queryRows<{ Host: string }>(conn, 'SELECT Host FROM mysql.user WHERE User = ?', [lowUser]);
      for (const r of rows) await conn.query('DROP USER ?@?', [lowUser, r.Host]);
    }, { database: null }).catch(() => undefined);
    await db?.drop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Each command with the arguments it needs; files it writes go under `out`. */
  const commands = (out: string): string[][] => [
    ['migrate', 'up'], ['migrate', 'down', '--count', '1'], ['migrate', 'status'], ['migrate', 'validate'], ['migrate', 'plan'],
    ['campaign', 'create', '1'], ['campaign', 'list'], ['campaign', 'upgrade', '--all'], ['campaign', 'retire', '1', '--out', out],
    ['messages', 'load', '--campaign', '1', '--reject-file', path.join(out, 'rejects.csv'), path.join(work, 'messages.csv')],
    ['maintenance', 'rotate-logs'], ['maintenance', 'offload', '--older-than', '30d', '--out', out], ['maintenance', 'run', '--out', out],
    ['users', 'apply', '--prefix', 'rdbtcnone'], ['health', '--json'], ['codegen', '--check', '--out', path.join(out, 'bindings')],
  ];

  // [kind, URL, exit code, exactly one stderr line]
  const kinds = (): [string, string, number, boolean][] => [
    ['bad port', `mysql://root:${ENCODED}@127.0.0.1:99999/db`, ExitCode.Usage, true],
    ['port abc', `mysql://root:${ENCODED}@127.0.0.1:abc/db`, ExitCode.Usage, true],
    ['space in host', `mysql://root:${ENCODED}@bad host/db`, ExitCode.Usage, true],
    ['refused', `mysql://root:${ENCODED}@127.0.0.1:1/db`, ExitCode.Failure, true],
    ['bad host', `mysql://root:${ENCODED}@nosuchhost.invalid/db`, ExitCode.Failure, true],
    ['access denied', `mysql://rdbtcnobody:${ENCODED}@${serverHost}/${db.name}`, ExitCode.Usage, true],
    ['bad database name', `mysql://${lowUser}:${ENCODED}@${serverHost}/no%60such`, ExitCode.Usage, true],
  ];

  interface Check { label: string; args: string[]; env: NodeJS.ProcessEnv; code: number | number[]; exactlyOne: boolean; out: string }

  /** Runs every check's command (a few at a time: they are independent), then asserts each one. */
  const runChecks = async (checks: Check[]) => {
    const results = await runCliMany(checks.map((c) => ({ args: c.args, env: c.env })));
    checks.forEach(({ label, args, code, exactlyOne, out }, i) => {
      const r = results[i];
      const what = `${label}: ${args.join(' ')}`;
      expect(r.code, `${what}: ${r.stdout.slice(0, 300)} ${r.stderr}`).to.be.oneOf(Array.isArray(code) ? code : [code]);
      if (r.code !== ExitCode.Success) expectOneErrorLine(r, what, exactlyOne);
      for (const [name, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['files', filesText(out)]]) {
        expect(text, `${what}: ${name} shows the password`).to.not.include(PASSWORD).and.not.include(ENCODED);
      }
    });
    expect(results.length).to.equal(checks.length);
  };

  it('every command, every URL failure, given with --url', async () => {
    const checks: Check[] = [];
    for (const [kind, url, code, one] of kinds()) {
      const out = fs.mkdtempSync(path.join(work, 'out-'));
      for (const args of commands(out)) checks.push({ label: kind, args: [...args, '--url', url], env: {}, code, exactlyOne: one, out });
      checks.push({ label: kind, args: ['sql', 'run', path.join(work, 'one.sql'), '--url', url], env: {}, code, exactlyOne: one, out });
      // demo uses the server only (its own reminderly_demo database): a URL that parses gets further.
      const demoCode = code === ExitCode.Failure ? [ExitCode.Usage] : kind.startsWith('bad') && kind !== 'bad port' ? [ExitCode.Usage, ExitCode.Failure] : [code];
      checks.push({ label: kind, args: ['demo', '--url', url, '--out', out], env: {}, code: demoCode, exactlyOne: one && demoCode.length === 1, out });
    }
    await runChecks(checks);
  });

  it('the same through REMINDERLY_PROD_URL (--env prod) and DATABASE_URL (--env dev)', async () => {
    const checks: Check[] = [];
    for (const [kind, url, code, one] of kinds()) {
      const out = fs.mkdtempSync(path.join(work, 'out-'));
      for (const args of [['migrate', 'up'], ['campaign', 'create', '1'], ['health']]) {
        checks.push({ label: `${kind} (REMINDERLY_PROD_URL)`, args: [...args, '--env', 'prod'], env: { REMINDERLY_PROD_URL: url }, code, exactlyOne: one, out });
      }
      checks.push({ label: `${kind} (DATABASE_URL)`, args: ['campaign', 'list', '--env', 'dev'], env: { DATABASE_URL: url }, code, exactlyOne: one, out });
    }
    await runChecks(checks);
  });

  it('health --replica with a password: an unreadable replica URL is one line, never the password', async () => {
    const out = fs.mkdtempSync(path.join(work, 'out-'));
    await runChecks(kinds().slice(0, 3).map(([kind, url, code]) =>
      ({ label: `${kind} (--replica)`, args: ['health', '--url', db.url, '--replica', url], env: {}, code, exactlyOne: true, out })));
  });

  it('a server error mid-command (the account may only SELECT, the database is empty): one error line, exit 1 or 2', async () => {
    const url = `mysql://${lowUser}:${ENCODED}@${serverHost}/${db.name}`;
    const out = fs.mkdtempSync(path.join(work, 'out-'));
    // One after the other: these reach the same database (campaign create and retire, users apply).
    for (const args of commands(out)) {
      // Reading the history of an empty database is no error (status, plan and validate say "all
      // pending"), nor is rotating or offloading the log tables of a database that has none.
      const reads = (args[0] === 'migrate' && ['status', 'plan', 'validate'].includes(args[1])) || ['rotate-logs', 'offload'].includes(args[1]);
      await runChecks([{ label: 'server error', args: [...args, '--url', url], env: {}, code: reads ? [ExitCode.Success] : [ExitCode.Usage, ExitCode.Failure], exactlyOne: false, out }]);
    }
  });

  it('an internal error is one line pointing at --verbose; a server error names the command, errno and SQLSTATE', () => {
    const internal = exitCodeFor(new TypeError('Cannot read properties of undefined (reading \'x\')\n    at somewhere'), 'campaign list');
    expect(internal).to.deep.equal({ code: ExitCode.Failure,
      message: "campaign list: internal error: Cannot read properties of undefined (reading 'x') at somewhere (run with --verbose for the trace)" });
    const server = Object.assign(new Error("Table 'd.t' doesn't exist"), { code: 'ER_NO_SUCH_TABLE', errno: 1146, sqlState: '42S02', sqlMessage: "Table 'd.t' doesn't exist" });
    expect(exitCodeFor(server, 'campaign list')).to.deep.equal({ code: ExitCode.Failure,
      message: "campaign list failed: ER_NO_SUCH_TABLE (errno 1146, SQLSTATE 42S02): Table 'd.t' doesn't exist" });
    const os = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    expect(exitCodeFor(os, 'maintenance offload').message).to.equal('maintenance offload failed: ENOSPC (write): no space left on device, write');
  });

  it('commander usage errors are one line, exit 1', () => {
    for (const args of [['migrate', 'up', '--bogus'], ['nosuch'], ['campaign'], ['campaign', 'create'], ['health', '--window']]) {
      const r = runCli(args);
      expect(r.code, args.join(' ')).to.equal(ExitCode.Usage);
      expectOneErrorLine(r, args.join(' '), true);
    }
  });
});
