// The pure parts of plan capture, on text shaped exactly as the servers write it (copied from
// MariaDB 10.11's slow log and MySQL 9.7's optimizer trace and performance_schema).
import { expect } from 'chai';
import {
  alignTrace, declaredVariables, parseSlowLog, RoutineSignature, StatementEvent, statementsFromSlowLog,
} from '../../tools/plans/capture';

const SLOW_LOG = `/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-0+deb12u1-log (Debian 12). started with:
Tcp port: 46093  Unix socket: /tmp/reminderly-server-plx-FFMQVb/mysqld.sock
Time		    Id Command	Argument
# Time: 261126 22:52:09
# User@Host: root[root] @  [127.0.0.1]
# Thread_id: 7  Schema: db  QC_hit: No
# Query_time: 0.000068  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
# Rows_affected: 0  Bytes_sent: 11
# Stored_routine: db.fx_check_queue
use \`db\`;
SET timestamp=1795733243;
SELECT max_batch INTO p_max FROM fx_queues WHERE id =  NAME_CONST('p_queue',1);
# User@Host: root[root] @  [127.0.0.1]
# Thread_id: 8  Schema: db  QC_hit: No
# Query_time: 0.000012  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
# Rows_affected: 0  Bytes_sent: 11
SET timestamp=1795733243;
SELECT 1 FROM other_session;
# User@Host: root[root] @  [127.0.0.1]
# Thread_id: 7  Schema: db  QC_hit: No
# Query_time: 0.000012  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0
# Stored_routine: db.fx_claim
SET timestamp=1795733243;
PREPARE fx_claim_read FROM @fx_sql;
# User@Host: root[root] @  [127.0.0.1]
# Thread_id: 7  Schema: db  QC_hit: No
# Query_time: 0.000495  Lock_time: 0.000414  Rows_sent: 1  Rows_examined: 1
# Rows_affected: 0  Bytes_sent: 0
# Stored_routine: db.fx_claim
SET timestamp=1795733243;
SELECT JSON_ARRAYAGG(id) INTO @fx_claim FROM (SELECT id FROM \`fx_jobs\` WHERE queue_id = 1
  AND state = 0 AND ready_at <= '2026-11-26 22:47:23.361' ORDER BY queue_id, state, ready_at LIMIT 50 FOR UPDATE SKIP LOCKED) AS d;
# User@Host: root[root] @  [127.0.0.1]
# Thread_id: 7  Schema: db  QC_hit: No
# Query_time: 0.000501  Lock_time: 0.000414  Rows_sent: 1  Rows_examined: 1
# Rows_affected: 0  Bytes_sent: 66
# Stored_routine: db.fx_claim
SET timestamp=1795733243;
SELECT JSON_ARRAYAGG(id) INTO @fx_claim FROM (SELECT id FROM \`fx_jobs\` WHERE queue_id = 1
  AND state = 0 AND ready_at <= '2026-11-26 22:47:23.361' ORDER BY queue_id, state, ready_at LIMIT 50 FOR UPDATE SKIP LOCKED) AS d;
# Time: 261126 22:52:10
# User@Host: root[root] @  [127.0.0.1]
# Thread_id: 7  Schema: db  QC_hit: No
# Query_time: 0.000606  Lock_time: 0.000029  Rows_sent: 1  Rows_examined: 3
SET timestamp=1795733243;
CALL fx_claim(1, 'w1', 50);
`;

describe('plans: capture (pure parts)', () => {
  describe('MariaDB slow log', () => {
    it('parses entries with thread, routine and the whole multi-line statement', () => {
      const entries = parseSlowLog(SLOW_LOG);
      expect(entries.map((e) => [e.threadId, e.routine])).to.deep.equal([
        [7, 'fx_check_queue'], [8, null], [7, 'fx_claim'], [7, 'fx_claim'], [7, 'fx_claim'], [7, null],
      ]);
      expect(entries[0].text).to.equal("SELECT max_batch INTO p_max FROM fx_queues WHERE id =  NAME_CONST('p_queue',1)");
      expect(entries[3].text).to.contain('\n  AND state = 0');
      expect(entries[5].text).to.equal("CALL fx_claim(1, 'w1', 50)");
    });

    it('keeps routine statements EXPLAIN takes, once each, without INTO', () => {
      const statements = statementsFromSlowLog(parseSlowLog(SLOW_LOG).filter((e) => e.threadId === 7));
      expect(statements.map((s) => [s.routine, s.kind])).to.deep.equal([['fx_check_queue', 'select'], ['fx_claim', 'select']]);
      expect(statements[0].explainSql).to.equal("SELECT max_batch FROM fx_queues WHERE id =  NAME_CONST('p_queue',1)");
      expect(statements[0].fingerprint).to.equal('SELECT max_batch INTO p_max FROM fx_queues WHERE id = p_queue');
      expect(statements[1].explainSql).to.match(/^SELECT JSON_ARRAYAGG\(id\) FROM \(SELECT id FROM `fx_jobs` WHERE queue_id = 1/);
    });
  });

  it('finds the DECLAREd variables of a routine body, not handlers, cursors or conditions', () => {
    const body = `BEGIN
      DECLARE v_a, v_b INT DEFAULT 0;
      DECLARE \`v_c\` DATETIME(3);
      DECLARE done CONDITION FOR SQLSTATE '02000';
      DECLARE cur CURSOR FOR SELECT 1;
      DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN DECLARE v_inner INT; END;
    END`;
    expect(declaredVariables(body)).to.deep.equal(['v_a', 'v_b', 'v_c', 'v_inner']);
  });

  describe('MySQL: optimizer trace aligned with performance_schema', () => {
    const signatures = new Map<string, RoutineSignature>([
      ['fx_claim', { params: [{ name: 'p_queue', mode: 'IN' }, { name: 'p_worker', mode: 'IN' }, { name: 'p_max', mode: 'IN' }],
        variables: new Set(['p_queue', 'p_worker', 'p_max', 'v_cap', 'v_now']) }],
      ['fx_check_queue', { params: [{ name: 'p_queue', mode: 'IN' }, { name: 'p_max', mode: 'OUT' }], variables: new Set(['p_queue', 'p_max']) }],
    ]);
    const ev = (eventId: number, name: string, routine: string | null, text: string, nestingEventId: number | null, endEventId: number | null = eventId): StatementEvent =>
      ({ eventId, endEventId, name, routine, text, nestingEventId });
    // As MySQL records them: the top-level CALL, a nested CALL, the prepared text three times
    // (PREPARE, EXECUTE, DEALLOCATE), statements inside a transaction nested in event 9 (a
    // transaction event, not in this table).
    const events = [
      ev(1, 'statement/sql/call_procedure', null, "CALL fx_claim(1, 'w1', 50)", null, 30),
      ev(2, 'statement/sp/stmt', 'fx_claim', 'CALL fx_check_queue(p_queue, v_cap)', 1, 4),
      ev(3, 'statement/sp/stmt', 'fx_check_queue', 'SELECT max_batch INTO p_max FROM fx_queues WHERE id = p_queue', 2),
      ev(8, 'statement/sp/stmt', 'fx_claim', 'START TRANSACTION', 1),
      ev(10, 'statement/sp/stmt', 'fx_claim', 'SELECT id FROM `fx_jobs` WHERE queue_id = ? AND ready_at <= ? LIMIT ?', 9),
      ev(11, 'statement/sp/stmt', 'fx_claim', 'SELECT id FROM `fx_jobs` WHERE queue_id = ? AND ready_at <= ? LIMIT ?', 9),
      ev(12, 'statement/sp/stmt', 'fx_claim', 'SELECT id FROM `fx_jobs` WHERE queue_id = ? AND ready_at <= ? LIMIT ?', 9),
      ev(14, 'statement/sp/stmt', 'fx_claim', 'SELECT t.id FROM fx_jobs t WHERE t.queue_id = p_queue AND t.worker = p_worker', 9),
      ev(15, 'statement/sp/stmt', 'fx_claim', 'SELECT t.id FROM fx_jobs t WHERE t.claimed_at = v_now', 9),
      ev(16, 'statement/sp/stmt', 'fx_claim', 'UPDATE fx_queues SET last_claim = v_now WHERE id = p_queue', 9),
    ];
    const trace = [
      'set v_cap@3 NULL',
      "CALL fx_check_queue( NAME_CONST('p_queue',1),  NAME_CONST('v_cap',NULL))",
      "SELECT max_batch INTO p_max FROM fx_queues WHERE id =  NAME_CONST('p_queue',1)",
      'jump_if_not 5(5) (p_max@1 is null)',
      'START TRANSACTION',
      'SELECT id FROM `fx_jobs` WHERE queue_id = ? AND ready_at <= ? LIMIT ?',
      "SELECT id FROM `fx_jobs` WHERE queue_id = 1 AND ready_at <= '2026-11-26 22:59:25.861' LIMIT 50",
      // After READ COMMITTED the binary log is in row format: no more NAME_CONST.
      'SELECT t.id FROM fx_jobs t WHERE t.queue_id = p_queue AND t.worker = p_worker',
      'SELECT t.id FROM fx_jobs t WHERE t.claimed_at = v_now',
      'UPDATE fx_queues SET last_claim = v_now WHERE id = p_queue',
    ];

    it('names the routine of each statement, the nested one included, and skips PREPARE texts and instructions', () => {
      const out = alignTrace(trace, events, signatures, 1024);
      expect(out.map((s) => s.routine)).to.deep.equal(['fx_check_queue', 'fx_claim', 'fx_claim', 'fx_claim', 'fx_claim']);
      expect(out[0].explainSql).to.equal("SELECT max_batch FROM fx_queues WHERE id = NAME_CONST('p_queue',1)");
      expect(out[1].explainSql).to.equal("SELECT id FROM `fx_jobs` WHERE queue_id = 1 AND ready_at <= '2026-11-26 22:59:25.861' LIMIT 50");
    });

    it('fills parameters from the CALL, follows them into nested calls, and reports locals it cannot see', () => {
      const out = alignTrace(trace, events, signatures, 1024);
      expect(out[2].explainSql).to.equal("SELECT t . id FROM fx_jobs t WHERE t . queue_id = (1) AND t . worker = ('w1')");
      expect(out[3].explainSql).to.equal(null);
      expect(out[3].unexplained).to.match(/value of v_now/);
      // v_now only sets a column: any value gives the same plan.
      expect(out[4].explainSql).to.equal('UPDATE fx_queues SET last_claim = (NULL) WHERE id = (1)');
    });

    it('matches a statement whose performance_schema text was cut off', () => {
      const long = 'SELECT id FROM fx_jobs WHERE queue_id = p_queue AND payload <> ' + "'x'".repeat(1);
      const cut = ev(3, 'statement/sp/stmt', 'fx_claim', long.slice(0, 40), 1);
      const out = alignTrace([long.replace('p_queue', "NAME_CONST('p_queue',1)")], [events[0], cut], signatures, 44);
      expect(out.map((s) => s.routine)).to.deep.equal(['fx_claim']);
    });
  });
});
