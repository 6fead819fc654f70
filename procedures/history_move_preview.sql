-- history_move_preview: what history_move would move now, and how many messages are unfinished.
--
-- Purpose:    counts, without changing anything, the campaign's messages, those not finished
--             (no current status yet, or one that is not final: what `campaign retire` refuses
--             without --force), those eligible for history_move with p_older_than_days, and the
--             rows that would move with them. The definitions are history_move_check's, so the
--             preview and the move agree. Used for `maintenance history --dry-run` and for the
--             progress total of a move.
-- Parameters: p_campaign_id       campaigns.id
--             p_older_than_days   0 to 36500
-- Result set: one row: campaign_id, messages (in the hot table), unfinished, eligible,
--             message_contact_status, status_updates, interactions (rows of the eligible
--             messages), ready_queue (queue entries of the eligible messages), history_messages
--             (messages already in the history table)
-- @setup INSERT INTO companies (id, name) VALUES (1, 'Example company')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--        SELECT 1, 1, 'Example campaign', id, 'active' FROM run_types WHERE code = 'immediate'
-- @setup CALL campaign_set_create(1, @created)
-- @example campaign_id=1 older_than_days=30
-- Errors:     SQLSTATE 45000 'history_move_preview: ...' naming the argument: campaign_id (not
--             given, unknown, no table set, retired or unfinished set), older_than_days (NULL,
--             negative or over 36500).
DROP PROCEDURE IF EXISTS history_move_preview;
DELIMITER $$
CREATE PROCEDURE history_move_preview(IN p_campaign_id BIGINT UNSIGNED, IN p_older_than_days INT)
READS SQL DATA
BEGIN
  DECLARE v_eligible TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_unfinished TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_messages VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_queue_exists INT DEFAULT 0;

  CALL history_move_check('history_move_preview', p_campaign_id, p_older_than_days, v_eligible, v_unfinished);
  SET v_messages = campaign_table_name(p_campaign_id, 'messages');
  SET @reminderly_hm_cutoff = NOW(3) - INTERVAL p_older_than_days DAY;
  SET @reminderly_hm_total = 0, @reminderly_hm_unfinished = 0, @reminderly_hm_eligible = 0,
      @reminderly_hm_statuses = 0, @reminderly_hm_updates = 0, @reminderly_hm_interactions = 0,
      @reminderly_hm_queue = 0, @reminderly_hm_history = 0;

  SET @reminderly_sql = CONCAT(
    'SELECT COUNT(*), COALESCE(SUM(', v_unfinished, '), 0), COALESCE(SUM(', v_eligible, '), 0) ',
    'INTO @reminderly_hm_total, @reminderly_hm_unfinished, @reminderly_hm_eligible FROM `', v_messages, '` m');
  PREPARE reminderly_hm_preview FROM @reminderly_sql;
  EXECUTE reminderly_hm_preview USING @reminderly_hm_cutoff;
  DEALLOCATE PREPARE reminderly_hm_preview;

  IF @reminderly_hm_eligible > 0 THEN
    SET @reminderly_sql = CONCAT(
      'SELECT (SELECT COUNT(*) FROM `', v_messages, '` m STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` s ',
      '         ON s.message_id = m.id WHERE ', v_eligible, '), ',
      '       (SELECT COUNT(*) FROM `', v_messages, '` m STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'status_updates'), '` u ',
      '         ON u.message_id = m.id WHERE ', v_eligible, '), ',
      '       (SELECT COUNT(*) FROM `', v_messages, '` m STRAIGHT_JOIN `', campaign_table_name(p_campaign_id, 'interactions'), '` i ',
      '         ON i.message_id = m.id WHERE ', v_eligible, ') ',
      'INTO @reminderly_hm_statuses, @reminderly_hm_updates, @reminderly_hm_interactions');
    PREPARE reminderly_hm_preview FROM @reminderly_sql;
    EXECUTE reminderly_hm_preview USING @reminderly_hm_cutoff, @reminderly_hm_cutoff, @reminderly_hm_cutoff;
    DEALLOCATE PREPARE reminderly_hm_preview;
    SELECT COUNT(*) INTO v_queue_exists FROM information_schema.TABLES
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = campaign_table_name(p_campaign_id, 'ready_queue');
    IF v_queue_exists > 0 THEN
      SET @reminderly_sql = CONCAT(
        'SELECT COUNT(*) INTO @reminderly_hm_queue FROM `', campaign_table_name(p_campaign_id, 'ready_queue'), '` x ',
        'WHERE x.message_id IN (SELECT m.id FROM `', v_messages, '` m WHERE ', v_eligible, ')');
      PREPARE reminderly_hm_preview FROM @reminderly_sql;
      EXECUTE reminderly_hm_preview USING @reminderly_hm_cutoff;
      DEALLOCATE PREPARE reminderly_hm_preview;
    END IF;
  END IF;
  SET @reminderly_sql = CONCAT('SELECT COUNT(*) INTO @reminderly_hm_history FROM `', campaign_table_name(p_campaign_id, 'messages_history'), '`');
  PREPARE reminderly_hm_preview FROM @reminderly_sql;
  EXECUTE reminderly_hm_preview;
  DEALLOCATE PREPARE reminderly_hm_preview;
  SET @reminderly_sql = NULL;

  SELECT p_campaign_id AS campaign_id, CAST(@reminderly_hm_total AS UNSIGNED) AS messages,
         CAST(@reminderly_hm_unfinished AS UNSIGNED) AS unfinished, CAST(@reminderly_hm_eligible AS UNSIGNED) AS eligible,
         CAST(@reminderly_hm_statuses AS UNSIGNED) AS message_contact_status, CAST(@reminderly_hm_updates AS UNSIGNED) AS status_updates,
         CAST(@reminderly_hm_interactions AS UNSIGNED) AS interactions, CAST(@reminderly_hm_queue AS UNSIGNED) AS ready_queue,
         CAST(@reminderly_hm_history AS UNSIGNED) AS history_messages;
END$$
DELIMITER ;
