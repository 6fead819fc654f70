// The codegen stages that need no server: header parsing, naming, SQL type mapping, the MariaDB
// JSON declaration reader and the emitter's determinism.
import { expect } from 'chai';
import { fieldKind, sqlTypeInfo } from '../../bindings/runtime';
import { declaredJsonTypes } from '../../tools/codegen/catalogue';
import { emitBindings, tsString } from '../../tools/codegen/emit';
import { parseHeader } from '../../tools/routines/header';
import { buildRoutineModel, camelCase, checkCollisions, normaliseSqlType, paramProp } from '../../tools/codegen/model';
import { exampleStatements } from '../../tools/codegen/sandbox';

describe('codegen stages', () => {
  describe('header', () => {
    const sql = [
      '-- claim_thing: takes things.',
      '-- Second line of the first paragraph.',
      '--',
      '-- Later prose is not documentation.',
      "-- @setup INSERT INTO t (a, b)",
      "--          VALUES (1, 'x; y')",
      "-- @example campaign_id=1 run_type='it''s immediate' at=NOW() sum=(1 + 2) tag=_utf8mb4'x y'",
      '-- @returns batch',
      '-- @returns messages',
      '-- @json payload { a: number }',
      'DROP PROCEDURE IF EXISTS claim_thing;',
      '-- @example not=read',
    ].join('\n');

    it('reads the first paragraph, tags with continuation lines and SQL example values', () => {
      const h = parseHeader(sql, 'procedures/claim_thing.sql');
      expect(h.description).to.deep.equal(['claim_thing: takes things.', 'Second line of the first paragraph.']);
      expect(h.setup).to.deep.equal([{ at: 'procedures/claim_thing.sql:5', sql: "INSERT INTO t (a, b)\nVALUES (1, 'x; y')" }]);
      expect(h.examples).to.have.length(1);
      expect(h.examples[0].args).to.deep.equal([
        ['campaign_id', '1'], ['run_type', "'it''s immediate'"], ['at', 'NOW()'], ['sum', '(1 + 2)'], ['tag', "_utf8mb4'x y'"],
      ]);
      expect(h.returns!.map((r) => [r.name, r.columns])).to.deep.equal([['batch', null], ['messages', null]]);
      expect(h.json.get('payload')).to.equal('{ a: number }');
    });

    it('reads declared result sets with types containing commas and quotes', () => {
      const h = parseHeader("-- @returns detail?: id BIGINT UNSIGNED, amount DECIMAL(65,30) NULL, status ENUM('a,b', 'c''d') NOT NULL\n", 'f.sql');
      expect(h.returns).to.deep.equal([{
        at: 'f.sql:1', name: 'detail', optional: true, columns: [
          { name: 'id', sqlType: 'BIGINT UNSIGNED', nullable: false },
          { name: 'amount', sqlType: 'DECIMAL(65,30)', nullable: true },
          { name: 'status', sqlType: "ENUM('a,b', 'c''d')", nullable: false },
        ],
      }]);
      expect(parseHeader('-- @returns none\n', 'f.sql').returns).to.deep.equal([]);
    });

    it('refuses malformed tags with the file and line', () => {
      expect(() => parseHeader('-- x\n-- @exampel a=1\n', 'p.sql')).to.throw(/^p\.sql:2: unknown header tag @exampel/);
      expect(() => parseHeader("-- @example a='open\n", 'p.sql')).to.throw(/^p\.sql:1: @example: unterminated '/);
      expect(() => parseHeader('-- @example a\n', 'p.sql')).to.throw(/expected name=value, got "a"/);
      expect(() => parseHeader('-- @returns a: x INT\n-- @returns b\n', 'p.sql')).to.throw(/either declare the columns of every result set or of none/);
      expect(() => parseHeader('-- @returns none\n-- @returns b\n', 'p.sql')).to.throw(/cannot be combined/);
    });
  });

  describe('names and types', () => {
    it('names parameters without p_ in camelCase and keeps other names usable', () => {
      expect(paramProp('p_campaign_id')).to.equal('campaignId');
      expect(paramProp('lease_seconds')).to.equal('leaseSeconds');
      expect(camelCase('claim_batch')).to.equal('claimBatch');
      expect(paramProp('p_')).to.equal('p_');
    });

    it('maps SQL types to one kind each, ENUM literals included', () => {
      const kinds = ['tinyint(1)', 'boolean', 'tinyint(4)', 'int(11)', 'bigint(20) unsigned', 'decimal(65,30)', 'double', 'date', 'datetime(6)',
        'timestamp', 'time', 'json', 'varchar(10)', 'longtext', 'blob', 'binary(4)', 'bit(3)'].map((t) => sqlTypeInfo(t).kind);
      expect(kinds).to.deep.equal(['boolean', 'boolean', 'int', 'int', 'bigint', 'decimal', 'float', 'date', 'datetime', 'datetime', 'time', 'json',
        'text', 'text', 'binary', 'binary', 'binary']);
      expect(sqlTypeInfo("enum('a','b''c','ü')")).to.deep.equal({ kind: 'text', enumValues: ['a', "b'c", 'ü'] });
      expect(() => sqlTypeInfo('cursor')).to.throw(/no TypeScript mapping/);
    });

    it('types computed columns from field metadata without ever a lossy number', () => {
      const f = (columnType: number, columnLength: number, characterSet = 63) => fieldKind({ name: 'x', columnType, columnLength, flags: 0, characterSet });
      expect(f(8, 1)).to.equal('int'); // MySQL: 1 > 0
      expect(f(3, 1)).to.equal('int'); // MariaDB: 1 > 0
      expect(f(8, 21)).to.equal('bigint'); // COUNT(*)
      expect(f(1, 1)).to.equal('boolean'); // a BOOLEAN variable
      expect(f(246, 33)).to.equal('decimal'); // SUM(int)
      expect(f(253, 10, 224)).to.equal('text');
      expect(f(253, 10, 63)).to.equal('binary');
      expect(fieldKind({ name: 'j', columnType: 252, columnLength: 0, flags: 0, characterSet: 224, extendedFormat: 'json' })).to.equal('json');
    });

    it('normalises declared types the same way on both servers', () => {
      expect(normaliseSqlType('bigint(20) unsigned')).to.equal('bigint unsigned');
      expect(normaliseSqlType('int(11)')).to.equal('int');
      expect(normaliseSqlType('tinyint(1)')).to.equal('tinyint(1)');
      expect(normaliseSqlType('tinyint(4)')).to.equal('tinyint');
      expect(normaliseSqlType("enum('A','b')")).to.equal("enum('A','b')");
    });

    it('finds JSON parameters and returns in a routine\'s own declaration (MariaDB stores them as LONGTEXT)', () => {
      const create = 'CREATE DEFINER=`root`@`%` PROCEDURE `p`(IN a INT, INOUT `doc` JSON, OUT c ENUM(\'x,y\', \'z\'), d json)\nBEGIN END';
      expect([...declaredJsonTypes(create, 'p').params]).to.deep.equal(['doc', 'd']);
      expect(declaredJsonTypes('CREATE FUNCTION `f`(x JSON) RETURNS json DETERMINISTIC RETURN x', 'f')).to.deep.equal({ params: new Set(['x']), returns: true });
      expect(declaredJsonTypes('CREATE FUNCTION `f`(x TEXT) RETURNS longtext CHARSET utf8mb4 RETURN x', 'f').returns).to.equal(false);
    });
  });

  describe('example calls', () => {
    const routine = {
      name: 'p', kind: 'procedure' as const, sqlDataAccess: 'NO SQL', comment: '', returns: null,
      params: [
        { name: 'p_a', mode: 'IN' as const, sqlType: 'int' }, { name: 'p_b', mode: 'INOUT' as const, sqlType: 'int' },
        { name: 'p_c', mode: 'OUT' as const, sqlType: 'int' }, { name: 'p_d', mode: 'IN' as const, sqlType: 'int' },
      ],
    };

    it('sets INOUT values and OUT variables, passes missing IN parameters as NULL', () => {
      expect(exampleStatements(routine, { at: 'f:1', args: [['a', '1'], ['p_b', '(2 + 3)']] })).to.deep.equal([
        'SET @_rdb_p2 = (2 + 3), @_rdb_p3 = NULL',
        'CALL `p`(1, @_rdb_p2, @_rdb_p3, NULL)',
      ]);
    });

    it('refuses unknown and OUT parameters with the header line', () => {
      expect(() => exampleStatements(routine, { at: 'f:3', args: [['zz', '1']] })).to.throw(/^f:3: @example: p has no parameter "zz" \(parameters: p_a, p_b, p_c, p_d\)/);
      expect(() => exampleStatements(routine, { at: 'f:3', args: [['c', '1']] })).to.throw(/p_c is an OUT parameter/);
    });
  });

  describe('emitter', () => {
    it('escapes strings for single-quoted TypeScript literals', () => {
      expect(tsString("it's \\ ü\n")).to.equal("'it\\'s \\\\ ü\\n'");
    });

    it('refuses generated names that collide with the runtime or with each other', () => {
      const header = parseHeader('', null);
      const make = (name: string) => buildRoutineModel({ name, kind: 'function', sqlDataAccess: 'NO SQL', comment: '', params: [], returns: 'int' }, header, null);
      expect(() => checkCollisions([make('call_procedure')])).to.throw(/routine call_procedure would export callProcedure, a name of the bindings' runtime/);
      expect(() => checkCollisions([make('get_item'), make('get__item')])).to.throw(/routines get_item and get__item both generate getItem/);
      expect(() => parseHeader('-- @returns out\n', 'f.sql') && buildRoutineModel(
        { name: 'p', kind: 'procedure', sqlDataAccess: 'NO SQL', comment: '', params: [], returns: null }, parseHeader('-- @returns out\n', 'f.sql'), { calls: [], columns: new Map() },
      )).to.throw(/f\.sql:1: @returns out: "out" is reserved/);
    });

    it('prints the same bytes whatever order the routines come in', () => {
      const header = parseHeader('', null);
      const make = (name: string) => buildRoutineModel({ name, kind: 'function', sqlDataAccess: 'NO SQL', comment: '', params: [], returns: 'int' }, header, null);
      const a = emitBindings([make('b_fn'), make('a_fn')], { runtimeImport: './runtime' });
      const b = emitBindings([make('a_fn'), make('b_fn')], { runtimeImport: './runtime' });
      expect([...a.entries()]).to.deep.equal([...b.entries()]);
      expect([...a.keys()]).to.deep.equal(['a-fn.ts', 'b-fn.ts', 'index.ts']);
    });
  });
});
