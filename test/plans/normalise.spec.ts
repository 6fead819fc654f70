// The normalisers on saved EXPLAIN FORMAT=JSON output of both servers: the pipeline routines'
// statements (samples NN-*, captured on a data set of 20,000 messages) and plan shapes made on
// purpose from the fixture's 200,000 jobs (samples fx-*).
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import { normaliseMariadb, normaliseMysql, RawPlanRow, scanKind } from '../../tools/plans/normalise';
import { resolveRows } from '../../tools/plans/explain';
import { ServerFlavour } from '../../tools/sql/flavour';

const SAMPLES = path.join(__dirname, 'samples');

function sample(flavour: ServerFlavour, prefix: string): { sql: string; rows: RawPlanRow[] } {
  const file = fs.readdirSync(path.join(SAMPLES, flavour)).find((f) => f.startsWith(prefix));
  if (!file) throw new Error(`no sample ${prefix} for ${flavour}`);
  const data = JSON.parse(fs.readFileSync(path.join(SAMPLES, flavour, file), 'utf8'));
  return { sql: data.sql, rows: flavour === 'mysql' ? normaliseMysql(data.explain) : normaliseMariadb(data.explain) };
}

/** table/access/index/flags, the part both servers should agree on. */
const brief = (rows: RawPlanRow[]) => rows.map((r) => `${r.select}:${r.name}:${r.access}:${r.index ?? '-'}${r.filesort ? ':filesort' : ''}${r.temporary ? ':temporary' : ''}${r.write ? ':' + r.write : ''}`);

describe('plans: EXPLAIN normalisers', () => {
  for (const flavour of ['mysql', 'mariadb'] as const) {
    describe(flavour, () => {
      it('reads every saved sample without error and gives each row an access type', () => {
        for (const file of fs.readdirSync(path.join(SAMPLES, flavour))) {
          const { rows } = sample(flavour, file);
          expect(rows.length, file).to.be.greaterThan(0);
          for (const r of rows) expect(r.access, file).to.be.a('string').and.not.equal('');
        }
      });

      it('the claim: a derived table over a range read of the queue primary key, no filesort, no temporary', () => {
        const { rows } = sample(flavour, '04-');
        expect(brief(rows)).to.deep.equal(['1:<derived2>:ALL:-', '2:campaign_1_ready_queue:range:PRIMARY']);
      });

      it('a full table scan and a full index scan (walking the primary key in order)', () => {
        expect(brief(sample(flavour, 'fx-full-table-scan').rows)).to.deep.equal(['1:fx_jobs:ALL:-']);
        const index = sample(flavour, 'fx-full-index-scan').rows;
        expect(brief(index)).to.deep.equal(['1:fx_jobs:index:PRIMARY']);
        expect(scanKind(index[0].access)).to.equal('index');
        expect(index[0].rows).to.equal(10);
      });

      it('a filesort after a ref read goes on the table read', () => {
        expect(brief(sample(flavour, 'fx-ref-filesort').rows)).to.deep.equal(['1:fx_jobs:ref:ix_fx_jobs_claim:filesort']);
      });

      it('grouping in a temporary table', () => {
        const [row] = sample(flavour, 'fx-group-temporary').rows;
        expect(row.temporary).to.equal(true);
        expect(row.access).to.equal('ALL');
      });

      it('DISTINCT over a join: temporary on the first table of the block only', () => {
        const rows = sample(flavour, 'fx-distinct-join').rows;
        expect(rows[0].temporary).to.equal(true);
        expect(rows.slice(1).every((r) => !r.temporary)).to.equal(true);
      });

      it('an index merge names both indexes', () => {
        const [row] = sample(flavour, 'fx-index-merge').rows;
        expect(row.access).to.equal('index_merge');
        expect(row.index).to.equal('sort_union(ix_fx_jobs_claim,PRIMARY)');
        expect(row.indexes).to.have.members(['ix_fx_jobs_claim', 'PRIMARY']);
      });

      it('the claimed rows: sorted JSON_TABLE rows joined by primary keys', () => {
        const rows = sample(flavour, '08-').rows;
        expect(rows[0]).to.include({ name: 'j', kind: 'function', filesort: true, temporary: false });
        expect(rows.filter((r) => r.kind === 'table').every((r) => r.access === 'eq_ref' && r.index === 'PRIMARY')).to.equal(true);
      });

      it('a multi-table UPDATE and DELETE through JSON_TABLE read the queue by primary key', () => {
        for (const prefix of ['22-', '23-']) {
          const q = sample(flavour, prefix).rows.find((r) => r.name === 'q')!;
          expect(q, prefix).to.include({ access: 'eq_ref', index: 'PRIMARY' });
        }
      });

      it('messages for blocks without tables', () => {
        expect(sample(flavour, '02-').rows).to.deep.equal([{ select: 1, name: '-', kind: 'none', access: 'none', index: null, indexes: [], rows: null,
          filesort: false, temporary: false, note: 'Select tables optimized away' }]);
        expect(sample(flavour, '34-').rows[0].note).to.equal('No tables used');
      });

      it('subqueries in the select list each get their block', () => {
        const rows = sample(flavour, '39-').rows;
        expect(rows.map((r) => r.select).sort()).to.include.members([1, 2, 3, 4, 5, 6]);
        expect(rows.filter((r) => r.name === 'b')).to.have.length(3);
      });

      it('aliases resolve to tables, campaign tables and indexes to their kind', () => {
        const { sql, rows } = sample(flavour, '08-');
        const resolved = resolveRows(rows, sql);
        expect(resolved.find((r) => r.alias === 'm')).to.include({ table: 'campaign_N_messages', physical: 'campaign_1_messages', index: 'PRIMARY' });
        expect(resolved.find((r) => r.alias === 'j')).to.include({ table: 'JSON_TABLE', physical: null });
      });
    });
  }

  describe('where the two servers differ', () => {
    it('INSERT ... VALUES: MySQL lists the target with access ALL, MariaDB without access; both are a write target, not a scan', () => {
      for (const flavour of ['mysql', 'mariadb'] as const) {
        const [row] = sample(flavour, '05-').rows;
        expect(row).to.include({ name: 'batches', access: 'insert', write: 'insert' });
        expect(scanKind(row.access)).to.equal(null);
      }
    });

    it('INSERT ... SELECT: MySQL lists the target too, MariaDB only the source', () => {
      expect(brief(sample('mysql', '45-').rows)).to.deep.equal(['1:campaign_1_ready_queue:insert:-:insert', '1:m:range:ix_c1_messages_send_after']);
      expect(brief(sample('mariadb', '45-').rows)).to.deep.equal(['1:m:range:ix_c1_messages_send_after']);
    });

    it('UNION: MySQL flags the union result temporary (it sorts it), MariaDB sorts and groups inside each block', () => {
      const mysql = sample('mysql', '38-').rows;
      expect(mysql[0]).to.include({ name: '<union1,2>', kind: 'union', temporary: true, filesort: true });
      const maria = sample('mariadb', '38-').rows;
      expect(maria[0]).to.include({ name: '<union1,2>', kind: 'union' });
      expect(maria.filter((r) => r.filesort && r.temporary).map((r) => r.select)).to.deep.equal([1, 2]);
    });

    it('MySQL JSON_TABLE and derived tables are materialised but not counted as temporary tables', () => {
      expect(sample('mysql', '04-').rows.some((r) => r.temporary)).to.equal(false);
      expect(sample('mysql', '22-').rows.some((r) => r.temporary)).to.equal(false);
    });

    it('MySQL EXPLAIN JSON version 2 is refused with what to do', () => {
      expect(() => normaliseMysql({ query: 'select 1', query_plan: {}, json_schema_version: '2.0' })).to.throw(/explain_json_format_version = 1/);
    });
  });
});
