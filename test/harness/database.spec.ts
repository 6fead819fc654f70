import { spawnSync } from 'child_process';
import path from 'path';
import { expect } from 'chai';
import { createThrowawayDatabase, dropStaleThrowaways, isStale, testServerUrl, THROWAWAY_PREFIX } from '../../tools/harness/database';
import { queryRows, quoteIdentifier, withConnection } from '../../tools/sql/connection';
import { useThrowawayDatabase } from '../../tools/harness/mocha';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const FAILING_FIXTURE = path.join(__dirname, 'fixtures', 'failing-throwaway.fixture.ts');

/** The pid of a process that has already exited (and been reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

function nameFor(pid: number, createdAt = Date.now() / 1000): string {
  return `${THROWAWAY_PREFIX}${Math.floor(createdAt).toString(36)}_${pid}_abc123`;
}

async function throwawaysOnServer(): Promise<string[]> {
  return withConnection(testServerUrl(), async (conn) => {
    const rows = await queryRows(conn, "SHOW DATABASES LIKE 'rdbt\\_%'");
    return rows.map((row) => String(Object.values(row)[0]));
  }, { database: null });
}

async function createDatabase(name: string): Promise<void> {
  await withConnection(testServerUrl(), (conn) => conn.query(`CREATE DATABASE ${quoteIdentifier(name)}`), { database: null });
}

async function dropDatabase(name: string): Promise<void> {
  await withConnection(testServerUrl(), (conn) => conn.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`), { database: null });
}

describe('harness: throwaway databases', function () {
  this.timeout(120_000);

  it('createThrowawayDatabase creates a prefixed database that drop() removes', async () => {
    const db = await createThrowawayDatabase('probe');
    try {
      expect(db.name.startsWith(THROWAWAY_PREFIX)).to.equal(true);
      expect(db.name).to.contain(`_${process.pid}_`).and.match(/_probe$/);
      expect(await throwawaysOnServer()).to.include(db.name);
      const [row] = await withConnection(db.url, (conn) => queryRows(conn, 'SELECT DATABASE() AS name'));
      expect(row.name).to.equal(db.name);
    } finally {
      await db.drop();
    }
    expect(await throwawaysOnServer()).to.not.include(db.name);
    await db.drop();
  });

  it('a throwaway database gets the server\'s default collation, or the one asked for; a name that is not a collation is refused', async () => {
    const collationOf = (name: string) => withConnection(testServerUrl(), async (conn) =>
      (await queryRows<{ c: string }>(conn, 'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]))[0].c,
    { database: null });
    const [{ c: server }] = await withConnection(testServerUrl(), (conn) => queryRows<{ c: string }>(conn, 'SELECT @@global.collation_server AS c'), { database: null });
    const plain = await createThrowawayDatabase('plain');
    const bin = await createThrowawayDatabase('bin', testServerUrl(), { collation: 'utf8mb4_bin' });
    try {
      expect(await collationOf(plain.name)).to.equal(server);
      expect(await collationOf(bin.name)).to.equal('utf8mb4_bin');
    } finally {
      await plain.drop();
      await bin.drop();
    }
    let error: Error | undefined;
    await createThrowawayDatabase('badname', testServerUrl(), { collation: 'utf8mb4_bin; DROP DATABASE x' }).catch((e) => { error = e; });
    expect(error?.message).to.contain('not a collation name');
    expect((await throwawaysOnServer()).filter((n) => n.includes(`_${process.pid}_`) && n.endsWith('_badname'))).to.deep.equal([]);
  });

  describe('isStale', () => {
    const now = 1_800_000_000;

    it('ignores names the harness did not make', () => {
      expect(isStale('reminderly', now)).to.equal(false);
      expect(isStale('rdbt_notastamp', now)).to.equal(false);
      expect(isStale(`x${nameFor(deadPid(), now)}`, now)).to.equal(false);
    });

    it('keeps a fresh database of a live process', () => {
      expect(isStale(nameFor(process.pid, now - 60), now)).to.equal(false);
      expect(isStale(nameFor(process.ppid, now - 60), now)).to.equal(false);
    });

    it('drops a database whose process is gone', () => {
      expect(isStale(nameFor(deadPid(), now - 60), now)).to.equal(true);
    });

    it('drops a database older than a day, whoever made it', () => {
      expect(isStale(nameFor(process.pid, now - 86_400 - 60), now)).to.equal(true);
      expect(isStale(nameFor(process.pid, now - 86_400 + 60), now)).to.equal(false);
    });
  });

  it('dropStaleThrowaways drops the database of a dead process and leaves a live one alone', async () => {
    const dead = nameFor(deadPid());
    const live = nameFor(process.ppid);
    await createDatabase(dead);
    await createDatabase(live);
    try {
      const dropped = await dropStaleThrowaways();
      expect(dropped).to.include(dead).and.not.include(live);
      const remaining = await throwawaysOnServer();
      expect(remaining).to.include(live).and.not.include(dead);
    } finally {
      await dropDatabase(dead);
      await dropDatabase(live);
    }
  });

  describe('useThrowawayDatabase', () => {
    const db = useThrowawayDatabase({ label: 'use' });

    it('gives the describe block a database of its own', async () => {
      expect(await throwawaysOnServer()).to.include(db.name);
      const [row] = await withConnection(db.url, (conn) => queryRows(conn, 'SELECT DATABASE() AS name'));
      expect(row.name).to.equal(db.name);
    });

    it('drops it after the block even when a test in it failed', async () => {
      // A child mocha runs a suite whose test fails while its database exists (see the fixture).
      const run = spawnSync(
        process.execPath,
        [require.resolve('mocha/bin/mocha.js'), '--no-config', '--require', 'ts-node/register/transpile-only', '--timeout', '60000', FAILING_FIXTURE],
        { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, MYSQL_URL: testServerUrl(), REMINDERLY_FIXTURE: 'failing-throwaway' }, timeout: 120_000 },
      );
      expect(run.status, run.stdout + run.stderr).to.equal(1);
      expect(run.stdout).to.contain('deliberate failure');
      const created = /THROWAWAY (\S+)/.exec(run.stdout)?.[1];
      expect(created, run.stdout).to.match(new RegExp(`^${THROWAWAY_PREFIX}\\w+_${run.pid}_`));
      const leftFromRun = (await throwawaysOnServer()).filter((name) => name.includes(`_${run.pid}_`));
      expect(leftFromRun).to.deep.equal([]);
    });
  });
});
