// The proof that the runner is faithful: every corpus file goes through our runner into one
// throwaway database and through the real command-line client into another, and the two must
// hold the same tables, views, routines, triggers, events and rows.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { expect } from 'chai';
import { createThrowawayDatabase, testServerUrl, ThrowawayDatabase } from '../../tools/harness/database';
import { withConnection } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { dumpWithTool, runWithClient } from '../../tools/sql/client';
import { chooseClientCharacterSet, runSqlFile } from '../../tools/sql/runner';
import { snapshotDatabase, SchemaSnapshot } from './schema-snapshot';

const CORPUS = path.join(__dirname, 'corpus');

/** What each file must have created, so a file that quietly does nothing cannot pass. */
const EXPECTED: Record<string, Partial<Record<'tables' | 'views' | 'routines' | 'triggers' | 'events', string[]>>> = {
  '01-delimiters.sql': {
    tables: ['counters'],
    routines: ['doubled', 'bump', 'count_to', 'nested_blocks'],
    triggers: ['counters_before_insert'],
    events: ['nightly_reset'],
  },
  '02-strings.sql': { tables: ['odd;table'], views: ['view;of`odd'], routines: ['proc;with`odd name'] },
  '03-comments.sql': { tables: ['notes'], views: ['note_bodies'], routines: ['annotated'] },
  '04-crlf.sql': { tables: ['crlf_lines'], routines: ['crlf_label'] },
  '05-tail.sql': { tables: ['items'] },
  '06-unicode.sql': { tables: ['städte'], views: ['große_städte'], routines: ['grüß'] },
  '07-dump-style.sql': { tables: ['orders'], routines: ['order_total'], triggers: ['orders_check'] },
  '08-sample-schema.sql': {
    tables: ['address', 'category', 'category_counts', 'film', 'film_text', 'rating_labels'],
    views: ['address_points', 'film_list'],
    routines: ['film_in_category', 'film_rating_label'],
    triggers: ['ins_film', 'upd_film'],
  },
  '09-binary-data.sql': { tables: ['cities', 'name_lengths'] },
};

/** The locale both the runner and the client choose their default character set from (C.UTF-8 exists everywhere, the MySQL chroot included). */
const CLIENT_LOCALE = { LC_ALL: 'C.UTF-8' };

/** The session character set to run with: named (given to both as --default-character-set), or the client's default. */
type CharacterSetChoice = string | 'client default';

function objectNames(snapshot: SchemaSnapshot): Record<string, string[]> {
  const names = (list: Record<string, unknown>[]) => list.map((o) => String(o.name)).sort();
  return {
    tables: Object.keys(snapshot.tables).sort(),
    views: Object.keys(snapshot.views).sort(),
    routines: names(snapshot.routines),
    triggers: names(snapshot.triggers),
    events: names(snapshot.events),
  };
}

describe('sql runner against the real client: corpus', function () {
  this.timeout(120_000);
  let server: ServerInfo;

  before(async () => {
    server = await withConnection(testServerUrl(), detectServer, { database: null });
  });

  it('covers every corpus file, and the corpus keeps its CRLF and BOM files intact', () => {
    expect(fs.readdirSync(CORPUS).filter((f) => f.endsWith('.sql')).sort()).to.deep.equal(Object.keys(EXPECTED).sort());
    expect(fs.readFileSync(path.join(CORPUS, '04-crlf.sql'), 'utf8')).to.match(/\r\n/).and.not.match(/[^\r]\n/);
    expect([...fs.readFileSync(path.join(CORPUS, '06-unicode.sql')).subarray(0, 3)]).to.deep.equal([0xef, 0xbb, 0xbf]);
  });

  /** Runs a file through the runner and through the client into two new databases; returns both snapshots. */
  async function replayBoth(source: string, file: string, characterSet: CharacterSetChoice): Promise<[SchemaSnapshot, SchemaSnapshot]> {
    let ours: ThrowawayDatabase | undefined;
    let theirs: ThrowawayDatabase | undefined;
    try {
      ours = await createThrowawayDatabase('corpus_runner');
      theirs = await createThrowawayDatabase('corpus_client');
      const runnerCharacterSet = characterSet === 'client default'
        ? chooseClientCharacterSet(server.flavour, server.clientCommand, undefined, { ...process.env, ...CLIENT_LOCALE }).name
        : characterSet;
      const ran = await withConnection(ours.url, (conn) => runSqlFile(conn, source, { file, characterSet: runnerCharacterSet }));
      expect(ran).to.be.greaterThan(0);
      await runWithClient(theirs.url, fs.readFileSync(source), {
        server, env: CLIENT_LOCALE, defaultCharacterSet: characterSet === 'client default' ? null : characterSet,
      });
      const [mine, reference] = await Promise.all([ours, theirs].map((db) =>
        withConnection(db!.url, (conn) => snapshotDatabase(conn, db!.name))));
      expect(mine, `${file} through the runner vs through ${server.clientCommand}`).to.deep.equal(reference);
      return [mine, reference];
    } finally {
      await ours?.drop();
      await theirs?.drop();
    }
  }

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`${file}: the runner creates exactly what the matching client creates`, async () => {
      const [mine] = await replayBoth(path.join(CORPUS, file), file, 'utf8mb4');
      const created = objectNames(mine);
      for (const [kind, names] of Object.entries(expected)) expect(created[kind], kind).to.include.members(names);
      expect(Object.values(mine.rows).some((rows) => rows.length > 0), 'some rows were inserted').to.equal(true);
    });
  }

  it('09-binary-data.sql: every byte of latin1 text and of BLOBs reaches the tables unchanged', async () => {
    const [mine] = await replayBoth(path.join(CORPUS, '09-binary-data.sql'), '09-binary-data.sql', 'utf8mb4');
    expect(mine.rows.name_lengths).to.deep.equal([
      { id: 1, chars: 4, bytes: 4, photo_bytes: 19 },
      { id: 2, chars: 14, bytes: 14, photo_bytes: 3 },
      { id: 3, chars: 23, bytes: 23, photo_bytes: 25 },
    ]);
    expect(mine.rows.cities.map((row) => (row as { name: string }).name)).to.deep.equal(['Köln', 'Zürich; Genève', 'Málaga -- not a comment']);
  });

  it('08-sample-schema.sql in the client\'s default character set: routines and views record the same session as the client\'s', async () => {
    const [mine] = await replayBoth(path.join(CORPUS, '08-sample-schema.sql'), '08-sample-schema.sql', 'client default');
    const expected = chooseClientCharacterSet(server.flavour, server.clientCommand, undefined, { ...process.env, ...CLIENT_LOCALE }).name;
    expect(mine.routines.map((r) => r.characterSetClient)).to.deep.equal([expected, expected]);
  });

  describe('dumps written by the server\'s own dump tool', () => {
    let sourceDb: ThrowawayDatabase | undefined;
    let source: SchemaSnapshot;
    let dir: string;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reminderly-corpus-dumps-'));
      sourceDb = await createThrowawayDatabase('corpus_dump_source');
      for (const file of ['01-delimiters.sql', '08-sample-schema.sql', '09-binary-data.sql']) {
        await runWithClient(sourceDb.url, fs.readFileSync(path.join(CORPUS, file)), { server });
      }
      source = await withConnection(sourceDb.url, (conn) => snapshotDatabase(conn, sourceDb!.name));
    });
    after(async () => {
      await sourceDb?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const options of [[], ['--routines', '--triggers', '--events']]) {
      const label = options.length ? options.join(' ') : 'default options';
      it(`the dump tool with ${label}: the runner restores exactly what the client restores, rows and bytes as in the source`, async () => {
        const dump = path.join(dir, `dump${options.join('')}.sql`);
        await dumpWithTool(sourceDb!.url, dump, options, server);
        const firstLine = fs.readFileSync(dump, 'latin1').split('\n')[0];
        if (server.flavour === 'mariadb') expect(firstLine).to.match(/^\/\*M!999999\\- enable the sandbox mode \*\//);

        const [mine] = await replayBoth(dump, path.basename(dump), 'client default');
        const created = objectNames(mine);
        expect(created.tables).to.include.members(['address', 'category', 'cities', 'counters', 'film', 'film_text']);
        expect(created.views).to.deep.equal(['address_points', 'film_list']);
        expect(created.triggers).to.deep.equal(['counters_before_insert', 'ins_film', 'upd_film']);
        expect(created.routines).to.deep.equal(options.length ? ['bump', 'count_to', 'doubled', 'film_in_category', 'film_rating_label', 'nested_blocks'] : []);
        expect(created.events).to.deep.equal(options.length ? ['nightly_reset'] : []);
        for (const table of ['cities', 'film', 'address', 'counters']) expect(mine.rows[table], table).to.deep.equal(source.rows[table]);
        if (options.length) expect(mine.routines).to.deep.equal(source.routines);
      });
    }
  });
});
