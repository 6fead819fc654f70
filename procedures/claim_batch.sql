-- claim_batch: a worker takes up to max_rows ready messages of one campaign and run type.
--
-- @setup INSERT INTO companies (id, name) VALUES (1, 'example')
-- @setup INSERT INTO users (id, company_id, role_id, email)
--          SELECT 1, 1, id, 'admin@example.com' FROM roles WHERE name = 'administrator'
-- @setup INSERT INTO contacts (id, company_id, name) VALUES (1, 1, 'contact')
-- @setup INSERT INTO contact_channels (contact_id, method_id, address) VALUES (1, 1, 'c1@example.com')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--          SELECT 1, 1, 'example', id, 'active' FROM run_types WHERE code = 'immediate'
-- @setup CALL campaign_set_create(1, @created)
-- @setup INSERT INTO campaign_1_messages (contact_id, method_id, packet, subject, body) VALUES (1, 1, 1, 'Hello', 'Body')
-- @setup CALL mark_packet_ready(1, 1, 1)
-- @example campaign_id=1 run_type='immediate' worker='example' max_rows=10 lease_seconds=60
-- @returns batch
-- @returns messages
-- @grant application
--
-- Purpose:    atomically takes the oldest claimable entries of the campaign's ready queue for the
--             run type, records a batch with a lease, and returns the batch and its messages with
--             each contact's channel (address) for the message's method. Claimable means:
--               immediate  marked ready (visible from the moment it was marked)
--               scheduled  marked ready and its send_after reached
--               retry      failed, attempts below run_types('retry').max_attempts, backoff elapsed
--             and, for every run type, entries of a batch whose lease expired (they are claimed
--             again, moved to the new batch; the old batch can then no longer complete them).
-- Parameters: p_campaign_id    campaigns.id
--             p_run_type       run_types.code: 'immediate', 'scheduled', 'retry'
--             p_worker         the worker's name, 1 to 64 characters (recorded on the batch)
--             p_max_rows       1 to 10000
--             p_lease_seconds  1 to 86400: how long the batch is the messages' only owner
-- Result sets (always both, in this order):
--             1. the batch: batch_id, campaign_id, run_type, worker, claimed_at, lease_until,
--                message_count; no row when nothing was claimable (and no batch is recorded)
--             2. its messages, oldest first: message_id, contact_id, method, address (NULL when
--                the contact has no channel for the method), opted_out_at, attempt (1 = first
--                try), packet, send_after, subject, body
-- Errors:     SQLSTATE 45000 'claim_batch: ...' naming the argument: campaign_id (unknown, no set,
--             retired set or one being retired ('campaign N: its table set is being retired;
--             nothing was changed'), set below the pipeline's template version), run_type unknown, worker
--             empty or too long, max_rows or lease_seconds out of range, called inside an open
--             transaction (the routine commits its own). Deadlocks are not expected (one range
--             read, then primary-key updates) but a caller retries 1213/1205 like any other.
--
-- Why the claim reads a queue table, in READ COMMITTED (measured on both servers with default
-- settings, 200,000 rows, batches of 100; figures and how to reproduce them: tools/pipeline/README.md):
--   * Claiming from messages by a (status, send_after) index under REPEATABLE READ locks, on every
--     claim, the delete-marked index entries left by earlier claims that purge has not removed
--     yet: with a snapshot held open (purge stopped), the 61st claim of 100 rows held 6,208 row
--     locks on both servers; the issue's runs with 16 workers filled the lock heap of a 128 MB
--     buffer pool (ER_LOCK_TABLE_FULL; walking the primary key instead aborted MariaDB).
--   * Under READ COMMITTED InnoDB (MariaDB 10.6+, MySQL 8+) does not lock committed delete-marked
--     records: the same 61st claim holds 200 locks. But on a secondary index each delete-marked
--     entry still costs a clustered-index visit to find that out, and the claim rewrites the
--     very index it reads: 16 workers fell to ~9,000 rows/s on MariaDB (1 worker ~22,000).
--   * So the claim reads ready_queue, a per-campaign table holding only messages not finished
--     yet, whose PRIMARY KEY is the claim order (run_type_id, visible_at, message_id): the claim
--     is a short range read of the clustered index in ORDER BY order (no filesort, and no
--     secondary index at all to keep in step). A claimed entry moves to (run_type_id,
--     lease_until, message_id), out of the range until the lease expires, which is also what
--     makes an expired batch's messages claimable again without a sweeper, and lets
--     complete_batch find them by exact primary key. The same claim+trivial-complete loop ran at
--     ~34,000 / 44,000 / 44,000 rows/s with 1 / 4 / 16 workers on MariaDB and ~16,000 / 20,000 /
--     24,000 on MySQL, with at most ~2 row locks per row taken.
--   * Its lock set does not grow with the table's history: with 2,000 claimed entries left
--     unpurged ahead of the range, a claim of 50 holds 50 row locks in READ COMMITTED and 2,055
--     if run in REPEATABLE READ (test/procedures/claim_batch.spec.ts checks this on both servers).
--   * The claim's transaction alone runs in READ COMMITTED (SET TRANSACTION before its START
--     TRANSACTION); the caller's session keeps its own level. Binary logging must be row-based
--     or mixed (the default on both servers), as READ COMMITTED requires.
--   * JSON_ARRAYAGG carries the claimed keys between statements; on MariaDB it is bounded by
--     group_concat_max_len (1 MB by default): 10,000 rows of ~45 bytes stay well below it.
DROP PROCEDURE IF EXISTS claim_batch;
DELIMITER $$
CREATE PROCEDURE claim_batch(
  IN p_campaign_id BIGINT UNSIGNED,
  IN p_run_type VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_worker VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_max_rows INT,
  IN p_lease_seconds INT)
    MODIFIES SQL DATA
BEGIN
  DECLARE v_company_id BIGINT UNSIGNED;
  DECLARE v_run_type_id TINYINT UNSIGNED;
  DECLARE v_queue VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_messages VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_batch_id BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_now DATETIME(3);
  DECLARE v_lease_until DATETIME(3);
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

  CALL pipeline_check_campaign('claim_batch', p_campaign_id, v_company_id);
  SELECT id INTO v_run_type_id FROM run_types WHERE code = p_run_type;
  IF v_run_type_id IS NULL THEN
    SET v_msg = LEFT(CONCAT('claim_batch: unknown run_type "', COALESCE(p_run_type, 'NULL'), '"'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF p_worker IS NULL OR TRIM(p_worker) = '' OR CHAR_LENGTH(p_worker) > 64 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'claim_batch: worker must be 1 to 64 characters';
  END IF;
  IF p_max_rows IS NULL OR p_max_rows < 1 OR p_max_rows > 10000 THEN
    SET v_msg = CONCAT('claim_batch: max_rows must be between 1 and 10000, got ', COALESCE(p_max_rows, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 86400 THEN
    SET v_msg = CONCAT('claim_batch: lease_seconds must be between 1 and 86400, got ', COALESCE(p_lease_seconds, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SET v_queue = campaign_table_name(p_campaign_id, 'ready_queue');
  SET v_messages = campaign_table_name(p_campaign_id, 'messages');

  BEGIN
    DECLARE EXIT HANDLER FOR 1568
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'claim_batch: must not be called inside an open transaction (it commits its own)';
    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  END;

  BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      ROLLBACK;
      RESIGNAL;
    END;
    START TRANSACTION;
    -- Before the queue is read: a set being retired refuses the claim; one this claim got into
    -- stays in service (retire waits) until the commit below.
    CALL pipeline_hold_set('claim_batch', p_campaign_id);
    SET v_now = NOW(3);
    SET v_lease_until = v_now + INTERVAL p_lease_seconds SECOND;
    SET @reminderly_claim = NULL, @reminderly_run_type = v_run_type_id, @reminderly_now = v_now, @reminderly_limit = p_max_rows;
    -- The range read: oldest visible entries of the lane, skipping those another claim holds.
    -- Every statement below names its join order and index (STRAIGHT_JOIN, FORCE INDEX): the plan
    -- the plan check records must not depend on InnoDB's statistics, which a server restarted before
    -- persisting them gives as "empty" (plans/scenarios.empty-statistics.json checks it).
    SET @reminderly_sql = CONCAT(
      'SELECT JSON_ARRAYAGG(JSON_ARRAY(visible_at, message_id, attempts)) INTO @reminderly_claim FROM (',
      'SELECT visible_at, message_id, attempts FROM `', v_queue, '` FORCE INDEX (PRIMARY) ',
      'WHERE run_type_id = ? AND visible_at <= ? ',
      'ORDER BY run_type_id, visible_at, message_id LIMIT ? FOR UPDATE SKIP LOCKED) AS d');
    PREPARE reminderly_claim_read FROM @reminderly_sql;
    EXECUTE reminderly_claim_read USING @reminderly_run_type, @reminderly_now, @reminderly_limit;
    DEALLOCATE PREPARE reminderly_claim_read;

    IF @reminderly_claim IS NOT NULL THEN
      INSERT INTO batches (campaign_id, run_type_id, worker, claimed_at, lease_until, message_count)
      VALUES (p_campaign_id, v_run_type_id, p_worker, v_now, v_lease_until, JSON_LENGTH(@reminderly_claim));
      SET v_batch_id = LAST_INSERT_ID();
      SET @reminderly_lease = v_lease_until, @reminderly_batch = v_batch_id;
      -- Move each taken entry to the end of the lease: out of the claim range until it expires.
      SET @reminderly_sql = CONCAT(
        'UPDATE JSON_TABLE(?, ''$[*]'' COLUMNS (visible_at DATETIME(3) PATH ''$[0]'', message_id BIGINT UNSIGNED PATH ''$[1]'')) AS j ',
        'STRAIGHT_JOIN `', v_queue, '` AS q FORCE INDEX (PRIMARY) ON q.run_type_id = ? AND q.visible_at = j.visible_at AND q.message_id = j.message_id ',
        'SET q.visible_at = ?, q.batch_id = ?');
      PREPARE reminderly_claim_move FROM @reminderly_sql;
      EXECUTE reminderly_claim_move USING @reminderly_claim, @reminderly_run_type, @reminderly_lease, @reminderly_batch;
      DEALLOCATE PREPARE reminderly_claim_move;
    END IF;
    COMMIT;
  END;

  SELECT b.id AS batch_id, b.campaign_id, p_run_type AS run_type, b.worker, b.claimed_at, b.lease_until, b.message_count
    FROM batches b WHERE b.id = v_batch_id;
  -- A user variable that was only ever NULL is a binary string on MySQL: JSON_TABLE refuses it.
  SET @reminderly_claim = CONVERT(COALESCE(@reminderly_claim, '[]') USING utf8mb4);
  -- Pinned to the recorded plan: the claimed ids first, then one primary-key lookup per message,
  -- method and channel. With plain JOINs a server restarted before InnoDB persisted the messages
  -- table's statistics (it then believes the table empty) scanned the whole table per claim: 1.37 s
  -- instead of 1.2 ms; with contact_channels believed empty MySQL read all of it into a hash join.
  SET @reminderly_sql = CONCAT(
    'SELECT j.message_id, m.contact_id, cm.code AS method, ch.address, ch.opted_out_at, j.attempts + 1 AS attempt, ',
    'm.packet, m.send_after, m.subject, m.body ',
    'FROM JSON_TABLE(?, ''$[*]'' COLUMNS (visible_at DATETIME(3) PATH ''$[0]'', message_id BIGINT UNSIGNED PATH ''$[1]'', attempts INT PATH ''$[2]'')) AS j ',
    'STRAIGHT_JOIN `', v_messages, '` AS m FORCE INDEX (PRIMARY) ON m.id = j.message_id ',
    'STRAIGHT_JOIN contact_methods cm FORCE INDEX (PRIMARY) ON cm.id = m.method_id ',
    'LEFT JOIN contact_channels ch FORCE INDEX (PRIMARY) ON ch.contact_id = m.contact_id AND ch.method_id = m.method_id ',
    'ORDER BY j.visible_at, j.message_id');
  PREPARE reminderly_claim_rows FROM @reminderly_sql;
  EXECUTE reminderly_claim_rows USING @reminderly_claim;
  DEALLOCATE PREPARE reminderly_claim_rows;
  SET @reminderly_claim = NULL;
END$$
DELIMITER ;
