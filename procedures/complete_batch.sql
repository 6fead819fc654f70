-- complete_batch: records a claimed batch's outcomes and closes the batch.
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
-- @setup CALL claim_batch(1, 'immediate', 'example', 10, 60)
-- @example batch_id=1 outcomes='[{"message_id": 1, "status": "sent", "provider_ref": "p-1"}]'
-- @returns completion
-- @grant application
--
-- Purpose:    for each message of the batch, one outcome: appends a status update (message and
--             method), sets the message's current status, and settles its ready-queue entry:
--               "failed"    retried (moved to the 'retry' lane after run_types('retry').
--                           retry_backoff_seconds * 2^(failures so far)) while the failures stay
--                           below its max_attempts, else finished as failed_permanently
--               "released"  handed back untried: claimable again at once, no status update
--               any other contact status code (sent, bounced, opted_out, ...): finished
--             then marks the batch complete with its counts. All or nothing, in one transaction.
-- Parameters: p_batch_id  batches.id returned by claim_batch
--             p_outcomes  JSON array with one object per message of the batch:
--                         {"message_id": 123, "status": "sent", "provider_ref": "...", "detail": "..."}
--                         provider_ref (up to 200 characters) and detail (up to 1000) are optional
-- Result set: one row: batch_id, already_completed (1 when the batch had been completed before:
--             nothing was changed by this call), message_count, sent_count, failed_count,
--             retry_count, released_count, completed_at
-- Errors:     SQLSTATE 45000 'complete_batch: ...': batch_id unknown; the campaign's set retired or
--             being retired ('campaign N: its table set is being retired; nothing was changed');
--             outcomes not valid JSON, not an array, an element without a whole-number message_id,
--             an unknown status (or pending/ready), a provider_ref/detail too long, a message
--             twice, not one outcome per message of the batch, a message not in the batch; the
--             batch expired and some of its messages were claimed again (the other batch owns
--             them now). A rejected call changes nothing. Called inside an open transaction:
--             refused (it commits its own).
DROP PROCEDURE IF EXISTS complete_batch;
DELIMITER $$
CREATE PROCEDURE complete_batch(
  IN p_batch_id BIGINT UNSIGNED,
  IN p_outcomes LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)
    MODIFIES SQL DATA
BEGIN
  DECLARE v_campaign_id BIGINT UNSIGNED;
  DECLARE v_company_id BIGINT UNSIGNED;
  DECLARE v_run_type_id TINYINT UNSIGNED;
  DECLARE v_retry_id TINYINT UNSIGNED;
  DECLARE v_max_attempts INT;
  DECLARE v_backoff INT;
  DECLARE v_failed_for_good SMALLINT UNSIGNED;
  DECLARE v_lease_until DATETIME(3);
  DECLARE v_completed_at DATETIME(3);
  DECLARE v_count INT UNSIGNED;
  DECLARE v_now DATETIME(3);
  DECLARE v_n INT;
  DECLARE v_distinct INT;
  DECLARE v_bad_id INT;
  DECLARE v_bad_status INT;
  DECLARE v_bad_length INT;
  DECLARE v_bad_value VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_queue VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_messages VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_mcs VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_updates VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

  IF p_batch_id IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'complete_batch: batch_id must be given';
  END IF;
  SELECT campaign_id INTO v_campaign_id FROM batches WHERE id = p_batch_id;
  IF v_campaign_id IS NULL THEN
    SET v_msg = CONCAT('complete_batch: batch_id ', p_batch_id, ' does not exist');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  CALL pipeline_check_campaign('complete_batch', v_campaign_id, v_company_id);
  IF p_outcomes IS NULL OR NOT JSON_VALID(p_outcomes) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'complete_batch: outcomes is not valid JSON';
  END IF;
  IF JSON_TYPE(p_outcomes) <> 'ARRAY' THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'complete_batch: outcomes must be a JSON array of {"message_id", "status"} objects';
  END IF;

  -- Every element, before anything changes, in one pass: the first bad one is named by its index.
  -- JSON_TABLE's string columns declare the schema's collation: left undeclared, MariaDB gives them
  -- the database default's character set (latin1 would lose characters and break the join).
  SELECT COUNT(*), COUNT(DISTINCT CAST(j.message_id AS UNSIGNED)),
         MIN(CASE WHEN j.message_id IS NULL OR j.message_id NOT REGEXP '^[0-9]{1,19}$' THEN j.n END),
         MIN(CASE WHEN j.status IS NULL OR j.status IN ('pending', 'ready') OR (s.id IS NULL AND j.status <> 'released') THEN j.n END),
         MIN(CASE WHEN CHAR_LENGTH(j.provider_ref) > 200 OR CHAR_LENGTH(j.detail) > 1000 THEN j.n END)
    INTO v_n, v_distinct, v_bad_id, v_bad_status, v_bad_length
    FROM JSON_TABLE(p_outcomes, '$[*]' COLUMNS (
           n FOR ORDINALITY,
           message_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH '$.message_id',
           status VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH '$.status',
           provider_ref TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH '$.provider_ref',
           detail TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH '$.detail')) AS j
    LEFT JOIN contact_statuses s FORCE INDEX (uq_contact_statuses_code) ON s.code = j.status;
  IF v_bad_id IS NOT NULL THEN
    SET v_msg = CONCAT('complete_batch: outcomes[', v_bad_id - 1, ']: message_id missing or not a whole number');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_bad_status IS NOT NULL THEN
    SET v_bad_value = LEFT(COALESCE(JSON_UNQUOTE(JSON_EXTRACT(p_outcomes, CONCAT('$[', v_bad_status - 1, '].status'))), 'NULL'), 40);
    SET v_msg = LEFT(CONCAT('complete_batch: outcomes[', v_bad_status - 1, ']: unknown status "', v_bad_value, '"'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_bad_length IS NOT NULL THEN
    SET v_msg = CONCAT('complete_batch: outcomes[', v_bad_length - 1, ']: provider_ref over 200 or detail over 1000 characters');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_n <> v_distinct THEN
    SELECT j.message_id INTO v_bad_value
      FROM JSON_TABLE(p_outcomes, '$[*]' COLUMNS (message_id BIGINT UNSIGNED PATH '$.message_id')) AS j
     GROUP BY j.message_id HAVING COUNT(*) > 1 ORDER BY j.message_id LIMIT 1;
    SET v_msg = CONCAT('complete_batch: outcomes: message ', v_bad_value, ' appears more than once');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;

  SELECT id, max_attempts, retry_backoff_seconds INTO v_retry_id, v_max_attempts, v_backoff FROM run_types WHERE code = 'retry';
  -- Two lookups by the unique code (const whatever the statistics say; an IN list over the index
  -- became a full index scan on MySQL when it believed contact_statuses empty).
  SELECT id INTO v_failed_for_good FROM contact_statuses WHERE code = 'failed_permanently';
  IF v_failed_for_good IS NULL THEN
    SELECT id INTO v_failed_for_good FROM contact_statuses WHERE code = 'failed';
  END IF;
  SET v_queue = campaign_table_name(v_campaign_id, 'ready_queue');
  SET v_messages = campaign_table_name(v_campaign_id, 'messages');
  SET v_mcs = campaign_table_name(v_campaign_id, 'message_contact_status');
  SET v_updates = campaign_table_name(v_campaign_id, 'status_updates');

  BEGIN
    DECLARE EXIT HANDLER FOR 1568
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'complete_batch: must not be called inside an open transaction (it commits its own)';
    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  END;

  BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      ROLLBACK;
      RESIGNAL;
    END;
    START TRANSACTION;
    -- Before the set is read: a set being retired refuses the completion (the batch stays open;
    -- its lease expires as usual); one this call got into stays in service until the commit.
    CALL pipeline_hold_set('complete_batch', v_campaign_id);
    SET v_now = NOW(3);
    -- The batch row lock serialises completions of one batch: the second one sees completed_at.
    SELECT run_type_id, lease_until, completed_at, message_count INTO v_run_type_id, v_lease_until, v_completed_at, v_count
      FROM batches WHERE id = p_batch_id FOR UPDATE;
    IF v_completed_at IS NULL THEN
      IF v_n <> v_count THEN
        SET v_msg = CONCAT('complete_batch: outcomes cover ', v_n, ' messages, batch ', p_batch_id, ' has ', v_count,
                           ' (one each; "released" hands one back)');
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
      END IF;
      -- Which outcome messages does the batch still hold? Exact primary-key positions, locked.
      -- A plain join led by the outcomes (ids are distinct, checked above): as a semi-join MySQL
      -- chose between two plans from run to run; STRAIGHT_JOIN keeps one eq_ref per outcome. The
      -- JSON_TABLE sits in a derived table because MySQL refuses FOR UPDATE on a table function.
      -- Here and below every joined table is named with its index (FORCE INDEX) and joined in the
      -- outcomes' order (STRAIGHT_JOIN): with the statistics of a server restarted before InnoDB
      -- persisted them (every table "empty"), MariaDB read all of message_contact_status for the
      -- status update and both servers scanned contact_statuses' index instead of one lookup per
      -- outcome (plans/scenarios.empty-statistics.json).
      SET @reminderly_outcomes = p_outcomes, @reminderly_run_type = v_run_type_id, @reminderly_lease = v_lease_until,
          @reminderly_batch = p_batch_id, @reminderly_held = 0, @reminderly_missing = NULL;
      SET @reminderly_sql = CONCAT(
        'SELECT COUNT(*) INTO @reminderly_held FROM (SELECT q.message_id ',
        'FROM (SELECT o.message_id FROM JSON_TABLE(?, ''$[*]'' COLUMNS (message_id BIGINT UNSIGNED PATH ''$.message_id'')) AS o) AS j ',
        'STRAIGHT_JOIN `', v_queue, '` AS q FORCE INDEX (PRIMARY) ON q.run_type_id = ? AND q.visible_at = ? AND q.message_id = j.message_id ',
        'WHERE q.batch_id = ? FOR UPDATE) AS d');
      PREPARE reminderly_complete_held FROM @reminderly_sql;
      EXECUTE reminderly_complete_held USING @reminderly_outcomes, @reminderly_run_type, @reminderly_lease, @reminderly_batch;
      DEALLOCATE PREPARE reminderly_complete_held;
      IF @reminderly_held <> v_n THEN
        SET @reminderly_sql = CONCAT(
          'SELECT MIN(j.message_id) INTO @reminderly_missing FROM JSON_TABLE(?, ''$[*]'' COLUMNS (message_id BIGINT UNSIGNED PATH ''$.message_id'')) AS j ',
          'WHERE NOT EXISTS (SELECT 1 FROM `', v_queue, '` AS q FORCE INDEX (PRIMARY) WHERE q.run_type_id = ? AND q.visible_at = ? AND q.message_id = j.message_id AND q.batch_id = ?)');
        PREPARE reminderly_complete_missing FROM @reminderly_sql;
        EXECUTE reminderly_complete_missing USING @reminderly_outcomes, @reminderly_run_type, @reminderly_lease, @reminderly_batch;
        DEALLOCATE PREPARE reminderly_complete_missing;
        IF v_lease_until < v_now THEN
          SET v_msg = LEFT(CONCAT('complete_batch: batch ', p_batch_id, ' expired at ', v_lease_until,
                                  ' and message ', @reminderly_missing, ' was claimed again: refused'), 128);
        ELSE
          SET v_msg = CONCAT('complete_batch: outcomes: message ', @reminderly_missing, ' is not in batch ', p_batch_id);
        END IF;
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
      END IF;

      -- Counts first (the queue entries still hold the attempts), then the changes.
      SET @reminderly_max_attempts = v_max_attempts, @reminderly_counts = NULL;
      SET @reminderly_sql = CONCAT(
        'SELECT JSON_OBJECT(''sent'', COALESCE(SUM(j.status = ''sent''), 0), ''failed'', COALESCE(SUM(j.status = ''failed''), 0), ',
        '''retry'', COALESCE(SUM(j.status = ''failed'' AND q.attempts + 1 < ?), 0), ''released'', COALESCE(SUM(j.status = ''released''), 0)) ',
        'INTO @reminderly_counts ',
        'FROM JSON_TABLE(?, ''$[*]'' COLUMNS (message_id BIGINT UNSIGNED PATH ''$.message_id'', ',
        'status VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH ''$.status'')) AS j ',
        'STRAIGHT_JOIN `', v_queue, '` AS q FORCE INDEX (PRIMARY) ON q.run_type_id = ? AND q.visible_at = ? AND q.message_id = j.message_id');
      PREPARE reminderly_complete_counts FROM @reminderly_sql;
      EXECUTE reminderly_complete_counts USING @reminderly_max_attempts, @reminderly_outcomes, @reminderly_run_type, @reminderly_lease;
      DEALLOCATE PREPARE reminderly_complete_counts;

      SET @reminderly_now = v_now;
      -- Append one status update per message and method (released messages get none); a failure
      -- with no retry left is recorded as failed_permanently.
      SET @reminderly_failed_for_good = v_failed_for_good;
      SET @reminderly_sql = CONCAT(
        'INSERT INTO `', v_updates, '` (message_id, method_id, status_id, provider_ref, detail, created_at) ',
        'SELECT j.message_id, m.method_id, IF(j.status = ''failed'' AND q.attempts + 1 >= ?, ?, s.id), j.provider_ref, j.detail, ? ',
        'FROM JSON_TABLE(?, ''$[*]'' COLUMNS (message_id BIGINT UNSIGNED PATH ''$.message_id'', ',
        'status VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH ''$.status'', ',
        'provider_ref VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH ''$.provider_ref'', ',
        'detail VARCHAR(1000) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH ''$.detail'')) AS j ',
        'STRAIGHT_JOIN `', v_queue, '` AS q FORCE INDEX (PRIMARY) ON q.run_type_id = ? AND q.visible_at = ? AND q.message_id = j.message_id ',
        'STRAIGHT_JOIN `', v_messages, '` AS m FORCE INDEX (PRIMARY) ON m.id = j.message_id ',
        'STRAIGHT_JOIN contact_statuses s FORCE INDEX (uq_contact_statuses_code) ON s.code = j.status');
      PREPARE reminderly_complete_updates FROM @reminderly_sql;
      EXECUTE reminderly_complete_updates USING @reminderly_max_attempts, @reminderly_failed_for_good, @reminderly_now, @reminderly_outcomes,
        @reminderly_run_type, @reminderly_lease;
      DEALLOCATE PREPARE reminderly_complete_updates;
      -- The current status per message and method.
      SET @reminderly_sql = CONCAT(
        'UPDATE JSON_TABLE(?, ''$[*]'' COLUMNS (message_id BIGINT UNSIGNED PATH ''$.message_id'', ',
        'status VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH ''$.status'')) AS j ',
        'STRAIGHT_JOIN `', v_queue, '` AS q FORCE INDEX (PRIMARY) ON q.run_type_id = ? AND q.visible_at = ? AND q.message_id = j.message_id ',
        'STRAIGHT_JOIN `', v_messages, '` AS m FORCE INDEX (PRIMARY) ON m.id = j.message_id ',
        'STRAIGHT_JOIN `', v_mcs, '` AS c FORCE INDEX (PRIMARY) ON c.message_id = m.id AND c.method_id = m.method_id ',
        'STRAIGHT_JOIN contact_statuses s FORCE INDEX (uq_contact_statuses_code) ON s.code = j.status ',
        'SET c.status_id = IF(j.status = ''failed'' AND q.attempts + 1 >= ?, ?, s.id), c.updated_at = ?');
      PREPARE reminderly_complete_status FROM @reminderly_sql;
      EXECUTE reminderly_complete_status USING @reminderly_outcomes, @reminderly_run_type, @reminderly_lease,
        @reminderly_max_attempts, @reminderly_failed_for_good, @reminderly_now;
      DEALLOCATE PREPARE reminderly_complete_status;
      -- Settle the queue entries: finished ones leave it; failures to retry move to the retry
      -- lane after the backoff; released ones are claimable again now.
      SET @reminderly_sql = CONCAT(
        'DELETE q FROM JSON_TABLE(?, ''$[*]'' COLUMNS (message_id BIGINT UNSIGNED PATH ''$.message_id'', ',
        'status VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH ''$.status'')) AS j ',
        'STRAIGHT_JOIN `', v_queue, '` AS q FORCE INDEX (PRIMARY) ON q.run_type_id = ? AND q.visible_at = ? AND q.message_id = j.message_id ',
        'WHERE j.status <> ''released'' AND (j.status <> ''failed'' OR q.attempts + 1 >= ?)');
      PREPARE reminderly_complete_delete FROM @reminderly_sql;
      EXECUTE reminderly_complete_delete USING @reminderly_outcomes, @reminderly_run_type, @reminderly_lease, @reminderly_max_attempts;
      DEALLOCATE PREPARE reminderly_complete_delete;
      SET @reminderly_retry = v_retry_id, @reminderly_backoff = v_backoff;
      SET @reminderly_sql = CONCAT(
        'UPDATE JSON_TABLE(?, ''$[*]'' COLUMNS (message_id BIGINT UNSIGNED PATH ''$.message_id'', ',
        'status VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH ''$.status'')) AS j ',
        'STRAIGHT_JOIN `', v_queue, '` AS q FORCE INDEX (PRIMARY) ON q.run_type_id = ? AND q.visible_at = ? AND q.message_id = j.message_id ',
        'SET q.run_type_id = IF(j.status = ''failed'', ?, q.run_type_id), ',
        'q.visible_at = IF(j.status = ''failed'', ? + INTERVAL (? * POW(2, q.attempts)) SECOND, ?), ',
        'q.attempts = q.attempts + (j.status = ''failed''), q.batch_id = NULL');
      PREPARE reminderly_complete_requeue FROM @reminderly_sql;
      EXECUTE reminderly_complete_requeue USING @reminderly_outcomes, @reminderly_run_type, @reminderly_lease,
        @reminderly_retry, @reminderly_now, @reminderly_backoff, @reminderly_now;
      DEALLOCATE PREPARE reminderly_complete_requeue;

      UPDATE batches
         SET completed_at = v_now,
             sent_count = JSON_EXTRACT(@reminderly_counts, '$.sent'),
             failed_count = JSON_EXTRACT(@reminderly_counts, '$.failed'),
             retry_count = JSON_EXTRACT(@reminderly_counts, '$.retry'),
             released_count = JSON_EXTRACT(@reminderly_counts, '$.released')
       WHERE id = p_batch_id;
    END IF;
    COMMIT;
    SET @reminderly_outcomes = NULL;
  END;

  SELECT b.id AS batch_id, IF(v_completed_at IS NULL, 0, 1) AS already_completed, b.message_count,
         b.sent_count, b.failed_count, b.retry_count, b.released_count, b.completed_at
    FROM batches b WHERE b.id = p_batch_id;
END$$
DELIMITER ;
