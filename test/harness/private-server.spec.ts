import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { expect } from 'chai';
import { cleanLeftoverServers, PrivateServer, SERVER_DIR_PREFIX, serverSupportsPrivateStart, startPrivateServer } from '../../tools/harness/private-server';
import { usePrivateServer } from '../../tools/harness/mocha';
import { queryRows, withConnection } from '../../tools/sql/connection';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const OWNER_FIXTURE = path.join(__dirname, 'fixtures', 'server-owner.fixture.ts');

/** The pid of a process that has already exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function eventually(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function serverVariable(server: PrivateServer, name: string): Promise<unknown> {
  const [row] = await withConnection(server.url, (conn) => queryRows(conn, `SELECT @@${name} AS value`));
  return row.value;
}

/** A fake server directory as a killed run would leave it. */
function leftoverDir(owner: number, server?: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), SERVER_DIR_PREFIX + 'test-'));
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'owner.pid'), String(owner));
  if (server !== undefined) fs.writeFileSync(path.join(dir, 'mysqld.pid'), String(server));
  return dir;
}

/** Runs the owner fixture: a child process that starts a private server and waits to be killed. */
function startOwner(): Promise<{ owner: ChildProcess; server: { pid: number; port: number; dataDir: string } }> {
  const owner = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', OWNER_FIXTURE], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  owner.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    owner.stdout!.on('data', (d) => {
      stdout += d;
      if (stdout.includes('\n')) resolve({ owner, server: JSON.parse(stdout) });
    });
    owner.on('exit', (code) => reject(new Error(`owner fixture exited (${code}) before its server was up:\n${stderr}`)));
  });
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

describe('harness: private server', function () {
  this.timeout(180_000);

  before(function () {
    if (!serverSupportsPrivateStart()) this.skip();
  });

  it('says so when the server binary is missing', () => {
    expect(serverSupportsPrivateStart('/nonexistent/mysqld')).to.equal(false);
  });

  describe('started with extra options', () => {
    const server = usePrivateServer({ args: ['--performance-schema=ON'], label: 'pfs' });

    it('runs with them', async () => {
      expect(Number(await serverVariable(server, 'performance_schema'))).to.equal(1);
    });

    it('lets root@127.0.0.1 in over TCP to create and query a database', async () => {
      expect(server.url).to.equal(`mysql://root@127.0.0.1:${server.port}`);
      const rows = await withConnection(server.url, async (conn) => {
        await conn.query('CREATE DATABASE probe');
        await conn.query('CREATE TABLE probe.notes (id INT PRIMARY KEY, note VARCHAR(20))');
        await conn.query("INSERT INTO probe.notes VALUES (1, 'hello')");
        return queryRows(conn, 'SELECT note, CURRENT_USER() AS user FROM probe.notes');
      });
      expect(rows).to.deep.equal([{ note: 'hello', user: 'root@127.0.0.1' }]);
    });
  });

  it('runs two servers at once on different ports', async () => {
    const started = await Promise.allSettled([startPrivateServer({ label: 'one' }), startPrivateServer({ label: 'two' })]);
    const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      const failures = started.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
      expect(failures).to.deep.equal([]);
      const [one, two] = servers;
      expect(one.port).to.not.equal(two.port);
      expect(one.dataDir).to.not.equal(two.dataDir);
      expect(Number(await serverVariable(one, 'port'))).to.equal(one.port);
      expect(Number(await serverVariable(two, 'port'))).to.equal(two.port);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  it('stop() shuts the server down and removes its directory, and may be called twice', async () => {
    const server = await startPrivateServer();
    expect(fs.existsSync(server.dataDir)).to.equal(true);
    expect(await portAnswers(server.port)).to.equal(true);
    await server.stop();
    expect(fs.existsSync(server.dataDir)).to.equal(false);
    expect(await portAnswers(server.port)).to.equal(false);
    await server.stop();
  });

  it('kill() crashes the server (kill -9) and restart() recovers it on the same data: committed rows are there', async () => {
    const server = await startPrivateServer({ label: 'crash' });
    try {
      await withConnection(server.url, async (conn) => {
        await conn.query('CREATE DATABASE probe');
        await conn.query('CREATE TABLE probe.notes (id INT PRIMARY KEY) ENGINE = InnoDB');
        await conn.query('INSERT INTO probe.notes VALUES (1), (2), (3)');
      });
      const firstPid = server.pid;
      await server.kill();
      expect(await portAnswers(server.port)).to.equal(false);
      expect(fs.existsSync(server.dataDir)).to.equal(true);
      await server.restart();
      expect(server.pid).to.not.equal(firstPid);
      const rows = await withConnection(server.url, (conn) => queryRows<{ n: number }>(conn, 'SELECT COUNT(*) AS n FROM probe.notes'));
      expect(Number(rows[0].n)).to.equal(3);
      // A kill -9, not a shutdown: the error log of the second run tells of crash recovery.
      expect(fs.readFileSync(path.join(server.dataDir, 'error.log'), 'utf8')).to.match(/crash recovery|Starting crash recovery|database was not shut down normally/i);
    } finally {
      await server.stop();
    }
    expect(fs.existsSync(server.dataDir)).to.equal(false);
  });

  it('fails with the tail of the error log when the server does not start, leaving nothing behind', async () => {
    const before = fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith(SERVER_DIR_PREFIX + 'broken'));
    let failure: Error | undefined;
    await startPrivateServer({ args: ['--no-such-option'], label: 'broken' }).then((s) => s.stop(), (err) => (failure = err));
    expect(failure?.message).to.match(/exited during startup/).and.match(/no-such-option/);
    const after = fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith(SERVER_DIR_PREFIX + 'broken'));
    expect(after).to.deep.equal(before);
  });

  describe('leftovers of killed runs', () => {
    it('removes a directory whose owner process is dead', async () => {
      const dir = leftoverDir(deadPid(), deadPid());
      expect(await cleanLeftoverServers()).to.include(dir);
      expect(fs.existsSync(dir)).to.equal(false);
    });

    it('leaves the directories of live processes alone', async () => {
      const dir = leftoverDir(process.ppid);
      try {
        expect(await cleanLeftoverServers()).to.not.include(dir);
        expect(fs.existsSync(dir)).to.equal(true);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('kills the server of an owner killed with SIGKILL on the next cleanup', async () => {
      const { owner, server } = await startOwner();
      owner.kill('SIGKILL');
      await exitOf(owner);
      // Nothing could run in the owner: its server is still up until someone cleans up.
      expect(await portAnswers(server.port)).to.equal(true);

      expect(await cleanLeftoverServers()).to.include(server.dataDir);
      expect(fs.existsSync(server.dataDir)).to.equal(false);
      await eventually(async () => !(await portAnswers(server.port)), 'the leftover server stops answering');
    });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`kills the servers of a process ended by ${signal}`, async () => {
        const { owner, server } = await startOwner();
        owner.kill(signal);
        await exitOf(owner);
        expect(owner.signalCode).to.equal(signal);
        expect(fs.existsSync(server.dataDir)).to.equal(false);
        await eventually(async () => !(await portAnswers(server.port)), 'the server stops answering');
      });
    }
  });
});
