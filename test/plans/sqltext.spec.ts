import { expect } from 'chai';
import {
  callArguments, explainableKind, fingerprint, fingerprintsMatch, hasPlaceholder, normaliseCampaignName, stripInto, substituteVariables,
  tableReferences, tokenize, variableAffectsPlan,
} from '../../tools/plans/sqltext';

describe('plans: SQL text', () => {
  describe('tokenize', () => {
    it('drops comments and keeps quoted runs whole, escapes included', () => {
      const t = tokenize("SELECT 'it''s', \"a\\\"b\", `we``ird` -- trailing\n/* block */ # hash\nFROM t");
      expect(t.map((x) => x.text)).to.deep.equal(['SELECT', "'it''s'", ',', '"a\\"b"', ',', '`we``ird`', 'FROM', 't']);
      expect(t.map((x) => x.kind)).to.deep.equal(['word', 'string', 'punct', 'string', 'punct', 'quoted', 'word', 'word']);
    });

    it('reads charset introducers and typed literals as one string, and NAME_CONST as one value', () => {
      const t = tokenize("x = _utf8mb4'a' AND y < TIMESTAMP'2026-01-01 00:00:00' AND z =  NAME_CONST('p_s',_latin1'a)b' COLLATE 'latin1_swedish_ci')AND w");
      expect(t.filter((x) => x.kind === 'string').map((x) => x.text)).to.deep.equal(["_utf8mb4'a'", "TIMESTAMP'2026-01-01 00:00:00'"]);
      const named = t.find((x) => x.kind === 'namedValue')!;
      expect(named.name).to.equal('p_s');
      expect(t[t.length - 2].text).to.equal('AND');
    });

    it('records where each token starts', () => {
      const sql = 'SELECT  a /* c */ FROM t';
      for (const tok of tokenize(sql)) expect(sql.slice(tok.start, tok.start + tok.text.length)).to.equal(tok.text);
    });
  });

  describe('fingerprint', () => {
    const raw = 'SELECT campaign_id INTO v_campaign_id FROM batches WHERE id = p_batch_id';
    it('is the same for the raw, the valued (both servers) and the expanded shape of one statement', () => {
      const mariadb = "SELECT campaign_id INTO v_campaign_id FROM batches WHERE id =  NAME_CONST('p_batch_id',17)";
      const mysql = "SELECT campaign_id INTO v_campaign_id FROM batches WHERE id =  NAME_CONST('p_batch_id',17)";
      expect(fingerprint(mariadb)).to.equal(fingerprint(raw));
      expect(fingerprint(mysql)).to.equal(fingerprint(raw));
      const prepared = 'SELECT id FROM `campaign_12_messages` AS m WHERE m.id = ? AND m.packet IN (?, ?)';
      const expanded = "SELECT id FROM `campaign_12_messages` AS m WHERE m.id = 5 AND m.packet IN (1, 'x')";
      expect(fingerprint(expanded)).to.equal(fingerprint(prepared));
      expect(fingerprint(expanded)).to.equal('SELECT id FROM campaign_N_messages AS m WHERE m.id = ? AND m.packet IN (...)');
    });

    it("keeps the space MySQL's NAME_CONST substitution swallows", () => {
      const mysql = "SELECT id INTO v FROM contact_statuses WHERE code =  NAME_CONST('p_status',_utf8mb4'delivered' COLLATE 'utf8mb4_unicode_ci')AND code NOT IN ('pending', 'ready')";
      expect(fingerprint(mysql)).to.equal(fingerprint("SELECT id INTO v FROM contact_statuses WHERE code = p_status AND code NOT IN ('pending', 'ready')"));
    });

    it('turns NULL values into ? but keeps IS [NOT] NULL', () => {
      expect(fingerprint("INSERT INTO t (a, b) VALUES (NULL, 'x')")).to.equal(fingerprint("INSERT INTO t (a, b) VALUES ('y', 3)"));
      expect(fingerprint('SELECT 1 FROM t WHERE a IS NULL AND b IS NOT NULL')).to.equal('SELECT ? FROM t WHERE a IS NULL AND b IS NOT NULL');
    });

    it('names campaign tables of any campaign alike, and nothing else', () => {
      expect(fingerprint('UPDATE `campaign_1_ready_queue` q SET q.x = 1')).to.equal(fingerprint('UPDATE campaign_987_ready_queue q SET q.x = 2'));
      expect(normaliseCampaignName('campaign_42_message_contact_status')).to.equal('campaign_N_message_contact_status');
      expect(normaliseCampaignName('ix_c42_messages_contact')).to.equal('ix_cN_messages_contact');
      expect(normaliseCampaignName('campaigns')).to.equal('campaigns');
      expect(normaliseCampaignName('campaign_sets')).to.equal('campaign_sets');
    });

    it('matches a cut-off copy (performance_schema truncates SQL_TEXT) by its prefix', () => {
      const full = fingerprint('SELECT a, b, c FROM t WHERE a = 1 AND b = 2');
      const cut = fingerprint('SELECT a, b, c FROM t WHERE a = 1 AN');
      expect(fingerprintsMatch(cut, full, true)).to.equal(true);
      expect(fingerprintsMatch(cut, full, false)).to.equal(false);
      expect(fingerprintsMatch(fingerprint('SELECT x FROM u'), full, true)).to.equal(false);
    });
  });

  it('knows which statements EXPLAIN takes, and a prepared text by its placeholders', () => {
    expect(explainableKind('  (SELECT 1)')).to.equal('select');
    expect(explainableKind('WITH x AS (SELECT 1) SELECT * FROM x')).to.equal('with');
    expect(explainableKind('SET @a = 1')).to.equal(null);
    expect(explainableKind('CALL p()')).to.equal(null);
    expect(hasPlaceholder("SELECT '?' FROM t WHERE a = ?")).to.equal(true);
    expect(hasPlaceholder("SELECT '?' FROM t")).to.equal(false);
  });

  describe('stripInto', () => {
    it('removes routine-variable and user-variable targets, wherever the INTO is', () => {
      expect(stripInto('SELECT a, b INTO v_a, v_b FROM t WHERE id = 1')).to.equal('SELECT a, b FROM t WHERE id = 1');
      expect(stripInto('SELECT JSON_ARRAYAGG(x) INTO @claim FROM (SELECT x FROM q LIMIT 5 FOR UPDATE SKIP LOCKED) AS d'))
        .to.equal('SELECT JSON_ARRAYAGG(x) FROM (SELECT x FROM q LIMIT 5 FOR UPDATE SKIP LOCKED) AS d');
      expect(stripInto('SELECT a FROM t WHERE id = 1 INTO @x')).to.equal('SELECT a FROM t WHERE id = 1');
    });

    it('leaves INSERT INTO and statements without INTO alone', () => {
      expect(stripInto('INSERT INTO t (a) SELECT 1')).to.equal('INSERT INTO t (a) SELECT 1');
      expect(stripInto("SELECT 'INTO x' FROM t")).to.equal("SELECT 'INTO x' FROM t");
    });
  });

  describe('tableReferences', () => {
    it('gives every base table with the alias EXPLAIN uses, skipping JSON_TABLE and derived tables', () => {
      const sql = "SELECT j.id FROM JSON_TABLE(?, '$[*]' COLUMNS (id INT PATH '$')) AS j JOIN `campaign_5_messages` AS m ON m.id = j.id "
        + 'LEFT JOIN contact_channels ch ON ch.contact_id = m.contact_id JOIN (SELECT 1 AS x FROM batches) AS d ON 1 = 1, run_types r';
      expect(tableReferences(sql)).to.deep.equal([
        { table: 'campaign_5_messages', alias: 'm' }, { table: 'contact_channels', alias: 'ch' }, { table: 'batches', alias: 'batches' },
        { table: 'run_types', alias: 'r' },
      ]);
    });

    it('covers UPDATE, multi-table DELETE, INSERT targets and index hints', () => {
      expect(tableReferences('UPDATE batches SET x = 1 WHERE id = 2')).to.deep.equal([{ table: 'batches', alias: 'batches' }]);
      expect(tableReferences('DELETE q FROM j STRAIGHT_JOIN `campaign_1_ready_queue` AS q ON q.id = j.id'))
        .to.deep.equal([{ table: 'j', alias: 'j' }, { table: 'campaign_1_ready_queue', alias: 'q' }]);
      expect(tableReferences('INSERT INTO `campaign_1_status_updates` (a) SELECT m.a FROM campaign_1_messages AS m FORCE INDEX (PRIMARY) WHERE 1'))
        .to.deep.equal([{ table: 'campaign_1_status_updates', alias: 'campaign_1_status_updates' }, { table: 'campaign_1_messages', alias: 'm' }]);
    });

    it('reads comma-separated FROM lists once', () => {
      expect(tableReferences('SELECT 1 FROM a, b x WHERE a.id = x.id')).to.deep.equal([{ table: 'a', alias: 'a' }, { table: 'b', alias: 'x' }]);
      expect(tableReferences('SELECT (SELECT 1 FROM c, d) FROM a')).to.deep.equal([{ table: 'c', alias: 'c' }, { table: 'd', alias: 'd' }, { table: 'a', alias: 'a' }]);
    });

    it('leaves CTE names out', () => {
      expect(tableReferences('WITH x AS (SELECT id FROM batches) SELECT * FROM x JOIN runs r ON r.id = x.id'))
        .to.deep.equal([{ table: 'batches', alias: 'batches' }, { table: 'runs', alias: 'r' }]);
    });
  });

  describe('routine variables', () => {
    const variables = new Set(['p_batch_id', 'v_now', 'v_count']);
    it('substitutes known values and lists unknown ones, not columns of the same name', () => {
      const r = substituteVariables('UPDATE batches b SET completed_at = v_now, b.v_count = 1 WHERE id = p_batch_id', variables, new Map([['p_batch_id', '17']]));
      expect(r.sql).to.equal('UPDATE batches b SET completed_at = v_now , b . v_count = 1 WHERE id = (17)');
      expect(r.unknown).to.deep.equal(['v_now']);
    });

    it('tells whether a variable can change the plan', () => {
      const sql = 'UPDATE batches SET completed_at = v_now WHERE id = p_batch_id';
      expect(variableAffectsPlan(sql, 'v_now')).to.equal(false);
      expect(variableAffectsPlan(sql, 'p_batch_id')).to.equal(true);
      expect(variableAffectsPlan('SELECT v_a AS a, IF(v_b IS NULL, 0, 1) FROM t WHERE t.id = 3', 'v_b')).to.equal(false);
      expect(variableAffectsPlan('SELECT (SELECT COUNT(*) FROM t WHERE t.x = v_b) AS n', 'v_b')).to.equal(true);
      expect(variableAffectsPlan("SELECT 1 FROM JSON_TABLE(p_doc, '$[*]' COLUMNS (a INT PATH '$')) AS j", 'p_doc')).to.equal(true);
      expect(variableAffectsPlan('INSERT INTO t (a, b) VALUES (v_a, 1)', 'v_a')).to.equal(false);
    });
  });

  it('splits CALL arguments at top-level commas', () => {
    expect(callArguments("CALL db.p(1, 'a,b', f(x, y), NAME_CONST('v',2))")).to.deep.equal({
      routine: 'p', args: ['1', "'a,b'", 'f ( x , y )', "NAME_CONST('v',2)"],
    });
    expect(callArguments('CALL q')).to.deep.equal({ routine: 'q', args: [] });
    expect(callArguments('SELECT 1')).to.equal(null);
  });
});
