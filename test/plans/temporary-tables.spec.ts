// A routine's session temporary table is gone when the plan check EXPLAINs on its own connection:
// the check recreates each one, empty, from the routine bodies.
import { expect } from 'chai';
import { temporaryTableStatements } from '../../tools/plans/explain';
import { readsDataDictionary } from '../../tools/plans/check';

describe('plan check helpers', () => {
  it('finds the CREATE TEMPORARY TABLE statements of a routine body, inside IF and after BEGIN', () => {
    const body = `BEGIN
      DECLARE v INT DEFAULT 0;
      IF v = 0 THEN CREATE TEMPORARY TABLE chunk_a (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, note VARCHAR(10) DEFAULT ';') ENGINE = InnoDB;
      END IF;
      DROP TEMPORARY TABLE IF EXISTS chunk_b;
      create temporary table if not exists chunk_b (id INT);
      SET @sql = 'CREATE TABLE not_temporary (id INT)';
    END`;
    expect(temporaryTableStatements(body)).to.deep.equal([
      "CREATE TEMPORARY TABLE chunk_a (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, note VARCHAR(10) DEFAULT ';') ENGINE = InnoDB",
      'create temporary table if not exists chunk_b (id INT)',
    ]);
  });

  it('leaves statements over information_schema out of the plan comparison', () => {
    expect(readsDataDictionary('SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?')).to.equal(true);
    expect(readsDataDictionary('SELECT COUNT(*) FROM campaign_1_messages')).to.equal(false);
  });
});
