// The proof that the runner is faithful: every corpus file goes through our runner into one
// throwaway database and through the real command-line client into another, and the two must
// hold the same tables, views, routines, triggers, events and rows.
import fs from 'fs';
import path from 'path';
import { expect } from 'chai';
import { createThrowawayDatabase, testServerUrl, ThrowawayDatabase } from '../../tools/harness/database';
import { withConnection } from '../../tools/sql/connection';
import { detectServer, ServerInfo } from '../../tools/sql/flavour';
import { runWithClient } from '../../tools/sql/client';
import { runSqlFile } from '../../tools/sql/runner';
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
};

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

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`${file}: the runner creates exactly what the matching client creates`, async () => {
      const source = path.join(CORPUS, file);
      let ours: ThrowawayDatabase | undefined;
      let theirs: ThrowawayDatabase | undefined;
      try {
        ours = await createThrowawayDatabase('corpus_runner');
        theirs = await createThrowawayDatabase('corpus_client');
        const ran = await withConnection(ours.url, (conn) => runSqlFile(conn, source, { file }));
        expect(ran).to.be.greaterThan(0);
        await runWithClient(theirs.url, fs.readFileSync(source, 'utf8'), { server });

        const [mine, reference] = await Promise.all([ours, theirs].map((db) =>
          withConnection(db!.url, (conn) => snapshotDatabase(conn, db!.name))));
        expect(mine, `${file} through the runner vs through ${server.clientCommand}`).to.deep.equal(reference);

        const created = objectNames(mine);
        for (const [kind, names] of Object.entries(expected)) expect(created[kind], kind).to.include.members(names);
        expect(Object.values(mine.rows).some((rows) => rows.length > 0), 'some rows were inserted').to.equal(true);
      } finally {
        await ours?.drop();
        await theirs?.drop();
      }
    });
  }
});
