-- history_move: moves a campaign's finished, old messages into its history tables, chunk by chunk.
--
-- Purpose:    for one campaign set, moves every message whose current statuses are all final and
--             unchanged for p_older_than_days days (history_move_check defines both), with its
--             message_contact_status rows, status updates and interactions, into the set's
--             *_history twins; its ready-queue entries, if any, are deleted. Messages are taken
--             in id order, p_chunk at a time, and each chunk is ONE transaction (READ COMMITTED):
--               1. pick the next p_chunk eligible ids after the last one into a session temporary
--                  table: the chunk's id list is fixed before anything is copied;
--               2. lock those messages and their status rows (FOR UPDATE; a concurrent status
--                  update waits, and a new child row cannot be added: its foreign key check
--                  needs the message row), and drop from the list any message that stopped
--                  being eligible meanwhile;
--               3. copy the rows of exactly those ids into the history tables, then delete
--                  exactly those ids from the hot tables, children first (foreign keys);
--               4. check that every table lost as many rows as its twin gained, then COMMIT.
--             A chunk commits whole or not at all, so a kill at any point (connection killed,
--             server restarted) leaves every row in exactly one place, and a rerun picks up
--             what is left. Copies are plain INSERTs: an id already in a history table makes
--             the chunk fail (and roll back) instead of being skipped or overwritten.
--             Columns are copied by name: every column of a hot table must exist in its twin
--             (checked first; the twin's moved_at is filled by its default).
--             Holds the set's lock (campaign_set_lock_name) while it works, so a set is never
--             dropped or upgraded under it.
-- Parameters: p_campaign_id       campaigns.id
--             p_older_than_days   0 to 36500: statuses unchanged for at least that many days
--             p_chunk             1 to 10000 messages per transaction
--             p_after_id          start after this message id (NULL or 0: from the start); pass
--                                 the last_id of a previous call to go on where it stopped
--             p_max_chunks        stop after this many chunks (NULL: until none is left), so a
--                                 caller can report progress between calls
-- Result set: one row: campaign_id, chunks (transactions committed), messages,
--             message_contact_status, status_updates, interactions (rows moved to history),
--             ready_queue (queue entries deleted), last_id (the highest message id looked at;
--             the p_after_id of the next call), done (1 when no eligible message is left after
--             last_id, 0 when p_max_chunks stopped it)
-- @setup INSERT INTO companies (id, name) VALUES (1, 'Example company')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--        SELECT 1, 1, 'Example campaign', id, 'active' FROM run_types WHERE code = 'immediate'
-- @setup CALL campaign_set_create(1, @created)
-- @example campaign_id=1 older_than_days=30 chunk=1000 after_id=NULL max_chunks=NULL
-- Errors:     SQLSTATE 45000 'history_move: ...' naming the argument: campaign_id (not given,
--             unknown, no table set, retired or unfinished set), older_than_days (NULL, negative
--             or over 36500), chunk (NULL or not 1 to 10000), max_chunks (below 1); a history
--             table missing or lacking a column of its hot table; a chunk whose copied and
--             deleted row counts differ (rolled back); another session changing the set (waited
--             60 s); called inside an open transaction (it commits its own). A deadlock (1213)
--             or lock wait timeout (1205) rolls back only the current chunk: call again.
DROP PROCEDURE IF EXISTS history_move;
DELIMITER $$
CREATE PROCEDURE history_move(IN p_campaign_id BIGINT UNSIGNED, IN p_older_than_days INT, IN p_chunk INT,
                              IN p_after_id BIGINT UNSIGNED, IN p_max_chunks INT)
MODIFIES SQL DATA
BEGIN
  DECLARE v_eligible TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_unfinished TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_lock VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_chunks INT DEFAULT 0;
  DECLARE v_messages BIGINT DEFAULT 0;
  DECLARE v_statuses BIGINT DEFAULT 0;
  DECLARE v_updates BIGINT DEFAULT 0;
  DECLARE v_interactions BIGINT DEFAULT 0;
  DECLARE v_queue_rows BIGINT DEFAULT 0;
  DECLARE v_done TINYINT DEFAULT 0;
  DECLARE v_has_queue INT DEFAULT 0;
  DECLARE v_i INT DEFAULT 0;
  DECLARE v_kind VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_hot VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_history VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_hot_columns INT;
  DECLARE v_shared_columns INT;
  DECLARE v_missing VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_columns TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_source_columns TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_message_source TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_status_source TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_update_source TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_interaction_source TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_index VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_hint VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_message_hint VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_status_hint VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_update_hint VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_interaction_hint VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_message_columns TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_status_columns TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_update_columns TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_interaction_columns TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_copied BIGINT;
  DECLARE v_deleted BIGINT;

  CALL history_move_check('history_move', p_campaign_id, p_older_than_days, v_eligible, v_unfinished);
  IF p_chunk IS NULL OR p_chunk < 1 OR p_chunk > 10000 THEN
    SET v_msg = CONCAT('history_move: chunk must be 1 to 10000 messages, got ', COALESCE(p_chunk, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF p_max_chunks IS NOT NULL AND p_max_chunks < 1 THEN
    SET v_msg = CONCAT('history_move: max_chunks must be at least 1 (or NULL: no limit), got ', p_max_chunks);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  BEGIN
    DECLARE EXIT HANDLER FOR 1568
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'history_move: must not be called inside an open transaction (it commits its own)';
    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  END;

  -- Every column of each hot table must have its place in the history twin: nothing is dropped
  -- on the way. The column lists are built from the catalogue, so template versions that add
  -- columns to both tables need no change here.
  WHILE v_i < 4 DO
    SET v_i = v_i + 1;
    SET v_kind = ELT(v_i, 'messages', 'message_contact_status', 'status_updates', 'interactions');
    SET v_hot = campaign_table_name(p_campaign_id, v_kind);
    SET v_history = campaign_table_name(p_campaign_id, CONCAT(v_kind, '_history'));
    SELECT COUNT(*) INTO v_hot_columns FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = v_hot;
    SELECT COUNT(*), GROUP_CONCAT(CONCAT('`', h.COLUMN_NAME, '`') ORDER BY h.ORDINAL_POSITION SEPARATOR ', '),
           GROUP_CONCAT(CONCAT('x.`', h.COLUMN_NAME, '`') ORDER BY h.ORDINAL_POSITION SEPARATOR ', ')
      INTO v_shared_columns, v_columns, v_source_columns
      FROM information_schema.COLUMNS h
     WHERE h.TABLE_SCHEMA = DATABASE() AND h.TABLE_NAME = v_history
       AND h.COLUMN_NAME IN (SELECT c.COLUMN_NAME FROM information_schema.COLUMNS c
                              WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = v_hot);
    IF v_hot_columns = 0 THEN
      SET v_msg = LEFT(CONCAT('history_move: campaign ', p_campaign_id, ': table ', v_hot, ' is missing'), 128);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF v_shared_columns < v_hot_columns THEN
      SELECT MIN(c.COLUMN_NAME) INTO v_missing FROM information_schema.COLUMNS c
       WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = v_hot
         AND c.COLUMN_NAME NOT IN (SELECT h.COLUMN_NAME FROM information_schema.COLUMNS h
                                    WHERE h.TABLE_SCHEMA = DATABASE() AND h.TABLE_NAME = v_history);
      SET v_msg = LEFT(CONCAT('history_move: campaign ', p_campaign_id, ': ', v_history, ' has no column ', v_missing, ' of ', v_kind), 128);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    -- Rows of the chunk are reached by an index on the message id, named as a hint: with the
    -- statistics of a table filled since they were last computed (a new set, a bulk load), the
    -- optimizer was seen to read a whole table once per message of the chunk instead.
    SET v_index = NULL;
    SELECT INDEX_NAME INTO v_index FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = v_hot AND SEQ_IN_INDEX = 1
       AND COLUMN_NAME = IF(v_i = 1, 'id', 'message_id')
     ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME LIMIT 1;
    SET v_hint = IF(v_index IS NULL, '', CONCAT(' FORCE INDEX (`', v_index, '`)'));
    CASE v_i
      WHEN 1 THEN SET v_message_columns = v_columns, v_message_source = v_source_columns, v_message_hint = v_hint;
      WHEN 2 THEN SET v_status_columns = v_columns, v_status_source = v_source_columns, v_status_hint = v_hint;
      WHEN 3 THEN SET v_update_columns = v_columns, v_update_source = v_source_columns, v_update_hint = v_hint;
      ELSE SET v_interaction_columns = v_columns, v_interaction_source = v_source_columns, v_interaction_hint = v_hint;
    END CASE;
  END WHILE;
  SELECT COUNT(*) INTO v_has_queue FROM information_schema.TABLES
   WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = campaign_table_name(p_campaign_id, 'ready_queue');

  SET v_lock = campaign_set_lock_name(p_campaign_id);
  IF COALESCE(GET_LOCK(v_lock, 60), 0) <> 1 THEN
    SET v_msg = CONCAT('history_move: campaign ', p_campaign_id, ': another session is changing its table set (waited 60 s)');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;

  BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      ROLLBACK;
      DROP TEMPORARY TABLE IF EXISTS reminderly_history_chunk;
      DO RELEASE_LOCK(v_lock);
      RESIGNAL;
    END;
    -- The set may have been retired while this call waited for its lock.
    CALL history_move_check('history_move', p_campaign_id, p_older_than_days, v_eligible, v_unfinished);
    DROP TEMPORARY TABLE IF EXISTS reminderly_history_chunk;
    CREATE TEMPORARY TABLE reminderly_history_chunk (id BIGINT UNSIGNED NOT NULL PRIMARY KEY) ENGINE = InnoDB;

    SET @reminderly_hm_after = COALESCE(p_after_id, 0), @reminderly_hm_chunk = p_chunk,
        @reminderly_hm_cutoff = NOW(3) - INTERVAL p_older_than_days DAY;

    SET @reminderly_sql = CONCAT(
      'INSERT INTO reminderly_history_chunk (id) SELECT m.id FROM `', campaign_table_name(p_campaign_id, 'messages'), '` m', v_message_hint, ' ',
      'WHERE m.id > ? AND ', v_eligible, ' ORDER BY m.id LIMIT ?');
    PREPARE reminderly_hm_pick FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT(
      'SELECT COUNT(*) INTO @reminderly_hm_locked FROM (SELECT m.id FROM reminderly_history_chunk t ',
      'STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'messages'), '` m', v_message_hint, ' ON m.id = t.id FOR UPDATE) AS d');
    PREPARE reminderly_hm_lock_messages FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT(
      'SELECT COUNT(*) INTO @reminderly_hm_locked FROM (SELECT c.message_id FROM reminderly_history_chunk t ',
      'STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` c', v_status_hint, ' ON c.message_id = t.id FOR UPDATE) AS d');
    PREPARE reminderly_hm_lock_statuses FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT(
      'DELETE FROM reminderly_history_chunk WHERE NOT EXISTS (SELECT 1 FROM `', campaign_table_name(p_campaign_id, 'messages'), '` m', v_message_hint, ' ',
      'WHERE m.id = reminderly_history_chunk.id AND ', v_eligible, ')');
    PREPARE reminderly_hm_recheck FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT(
      'INSERT INTO `', campaign_table_name(p_campaign_id, 'messages_history'), '` (', v_message_columns, ') ',
      'SELECT ', v_message_source, ' FROM reminderly_history_chunk t ',
      'STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'messages'), '` x', v_message_hint, ' ON x.id = t.id');
    PREPARE reminderly_hm_copy_messages FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT(
      'INSERT INTO `', campaign_table_name(p_campaign_id, 'message_contact_status_history'), '` (', v_status_columns, ') ',
      'SELECT ', v_status_source, ' FROM reminderly_history_chunk t ',
      'STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` x', v_status_hint, ' ON x.message_id = t.id');
    PREPARE reminderly_hm_copy_statuses FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT(
      'INSERT INTO `', campaign_table_name(p_campaign_id, 'status_updates_history'), '` (', v_update_columns, ') ',
      'SELECT ', v_update_source, ' FROM reminderly_history_chunk t ',
      'STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'status_updates'), '` x', v_update_hint, ' ON x.message_id = t.id');
    PREPARE reminderly_hm_copy_updates FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT(
      'INSERT INTO `', campaign_table_name(p_campaign_id, 'interactions_history'), '` (', v_interaction_columns, ') ',
      'SELECT ', v_interaction_source, ' FROM reminderly_history_chunk t ',
      'STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'interactions'), '` x', v_interaction_hint, ' ON x.message_id = t.id');
    PREPARE reminderly_hm_copy_interactions FROM @reminderly_sql;
    IF v_has_queue > 0 THEN
      -- The queue has no index on message_id (its key is the claim order): one scan of it per
      -- chunk, each entry looked up in the chunk's primary key.
      SET @reminderly_sql = CONCAT('DELETE x FROM `', campaign_table_name(p_campaign_id, 'ready_queue'), '` x ',
        'JOIN reminderly_history_chunk t ON t.id = x.message_id');
      PREPARE reminderly_hm_delete_queue FROM @reminderly_sql;
    END IF;
    SET @reminderly_sql = CONCAT('DELETE x FROM reminderly_history_chunk t STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'interactions'), '` x',
      v_interaction_hint, ' ON x.message_id = t.id');
    PREPARE reminderly_hm_delete_interactions FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT('DELETE x FROM reminderly_history_chunk t STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'status_updates'), '` x',
      v_update_hint, ' ON x.message_id = t.id');
    PREPARE reminderly_hm_delete_updates FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT('DELETE x FROM reminderly_history_chunk t STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` x',
      v_status_hint, ' ON x.message_id = t.id');
    PREPARE reminderly_hm_delete_statuses FROM @reminderly_sql;
    SET @reminderly_sql = CONCAT('DELETE x FROM reminderly_history_chunk t STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'messages'), '` x',
      v_message_hint, ' ON x.id = t.id');
    PREPARE reminderly_hm_delete_messages FROM @reminderly_sql;

    chunks: LOOP
      IF p_max_chunks IS NOT NULL AND v_chunks >= p_max_chunks THEN
        LEAVE chunks;
      END IF;
      SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
      START TRANSACTION;
      DELETE FROM reminderly_history_chunk;
      -- 1. The chunk's ids, fixed before anything moves.
      EXECUTE reminderly_hm_pick USING @reminderly_hm_after, @reminderly_hm_cutoff, @reminderly_hm_chunk;
      IF ROW_COUNT() = 0 THEN
        COMMIT;
        SET v_done = 1;
        LEAVE chunks;
      END IF;
      SELECT MAX(id) INTO @reminderly_hm_after FROM reminderly_history_chunk;
      -- 2. Lock them, then keep only those still eligible (read after the locks: READ COMMITTED).
      EXECUTE reminderly_hm_lock_messages;
      EXECUTE reminderly_hm_lock_statuses;
      EXECUTE reminderly_hm_recheck USING @reminderly_hm_cutoff;
      -- 3. Copy, then delete exactly those ids, children before their message; 4. compare counts.
      EXECUTE reminderly_hm_copy_messages;
      SET @reminderly_hm_messages = ROW_COUNT();
      EXECUTE reminderly_hm_copy_statuses;
      SET @reminderly_hm_statuses = ROW_COUNT();
      EXECUTE reminderly_hm_copy_updates;
      SET @reminderly_hm_updates = ROW_COUNT();
      EXECUTE reminderly_hm_copy_interactions;
      SET @reminderly_hm_interactions = ROW_COUNT();
      IF v_has_queue > 0 THEN
        EXECUTE reminderly_hm_delete_queue;
        SET v_queue_rows = v_queue_rows + ROW_COUNT();
      END IF;
      EXECUTE reminderly_hm_delete_interactions;
      SET v_deleted = ROW_COUNT(), v_kind = 'interactions', v_copied = @reminderly_hm_interactions;
      IF v_deleted = v_copied THEN
        EXECUTE reminderly_hm_delete_updates;
        SET v_deleted = ROW_COUNT(), v_kind = 'status_updates', v_copied = @reminderly_hm_updates;
      END IF;
      IF v_deleted = v_copied THEN
        EXECUTE reminderly_hm_delete_statuses;
        SET v_deleted = ROW_COUNT(), v_kind = 'message_contact_status', v_copied = @reminderly_hm_statuses;
      END IF;
      IF v_deleted = v_copied THEN
        EXECUTE reminderly_hm_delete_messages;
        SET v_deleted = ROW_COUNT(), v_kind = 'messages', v_copied = @reminderly_hm_messages;
      END IF;
      IF v_deleted <> v_copied THEN
        SET v_msg = LEFT(CONCAT('history_move: campaign ', p_campaign_id, ': ', v_kind, ': copied ', v_copied,
                                ' rows but deleted ', v_deleted, '; chunk rolled back'), 128);
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
      END IF;
      COMMIT;
      SET v_chunks = v_chunks + 1;
      SET v_messages = v_messages + @reminderly_hm_messages, v_statuses = v_statuses + @reminderly_hm_statuses,
          v_updates = v_updates + @reminderly_hm_updates, v_interactions = v_interactions + @reminderly_hm_interactions;
    END LOOP;

    DEALLOCATE PREPARE reminderly_hm_pick;
    DEALLOCATE PREPARE reminderly_hm_lock_messages;
    DEALLOCATE PREPARE reminderly_hm_lock_statuses;
    DEALLOCATE PREPARE reminderly_hm_recheck;
    DEALLOCATE PREPARE reminderly_hm_copy_messages;
    DEALLOCATE PREPARE reminderly_hm_copy_statuses;
    DEALLOCATE PREPARE reminderly_hm_copy_updates;
    DEALLOCATE PREPARE reminderly_hm_copy_interactions;
    IF v_has_queue > 0 THEN
      DEALLOCATE PREPARE reminderly_hm_delete_queue;
    END IF;
    DEALLOCATE PREPARE reminderly_hm_delete_interactions;
    DEALLOCATE PREPARE reminderly_hm_delete_updates;
    DEALLOCATE PREPARE reminderly_hm_delete_statuses;
    DEALLOCATE PREPARE reminderly_hm_delete_messages;
    DROP TEMPORARY TABLE IF EXISTS reminderly_history_chunk;
    SET @reminderly_sql = NULL;
  END;
  DO RELEASE_LOCK(v_lock);
  SELECT p_campaign_id AS campaign_id, v_chunks AS chunks, v_messages AS messages, v_statuses AS message_contact_status,
         v_updates AS status_updates, v_interactions AS interactions, v_queue_rows AS ready_queue,
         CAST(@reminderly_hm_after AS UNSIGNED) AS last_id, v_done AS done;
END$$
DELIMITER ;
