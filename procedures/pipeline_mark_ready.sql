-- pipeline_mark_ready: the work behind mark_packet_ready and mark_ready (not called directly).
--
-- @internal
--
-- Purpose:    marks a campaign's loaded, not yet ready messages ready, selected either by data
--             packet or by a send_after window, and puts them in the ready queue: messages without
--             send_after in the 'immediate' lane (claimable now), the others in the 'scheduled'
--             lane (claimable from send_after). Creates each message's current status row
--             ('ready'). Runs in REPEATABLE READ: its reads take next-key locks on the selected
--             range of messages, so the queue rows, the status rows and ready_at cover exactly
--             the same messages even while a loader inserts into the campaign. Calls for one
--             campaign are serialised on its campaign_sets row.
-- Parameters: p_routine (caller's name for messages), p_user_id (access check), p_campaign_id,
--             p_packet (packet mode) or p_from/p_to (window mode: from <= send_after < to)
-- Result set: one row: campaign_id, marked, immediate, scheduled
-- Errors:     SQLSTATE 45000 from pipeline_check_campaign, pipeline_hold_set (the set being
--             retired) and assert_company_access; called inside an open transaction: refused.
DROP PROCEDURE IF EXISTS pipeline_mark_ready;
DELIMITER $$
CREATE PROCEDURE pipeline_mark_ready(
  IN p_routine VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_user_id BIGINT UNSIGNED,
  IN p_campaign_id BIGINT UNSIGNED,
  IN p_packet BIGINT,
  IN p_from DATETIME(3),
  IN p_to DATETIME(3))
    MODIFIES SQL DATA
BEGIN
  DECLARE v_company_id BIGINT UNSIGNED;
  DECLARE v_filter VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  -- By packet, the (packet, ready_at) index: MariaDB's cost model preferred a locking full scan
  -- when a packet held 10% of the campaign (found by `reminderly-db plans`).
  DECLARE v_hint VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT '';
  DECLARE v_messages VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_immediate INT DEFAULT 0;
  DECLARE v_scheduled INT DEFAULT 0;

  CALL pipeline_check_campaign(p_routine, p_campaign_id, v_company_id);
  CALL assert_company_access(p_user_id, v_company_id);
  SET v_messages = campaign_table_name(p_campaign_id, 'messages');
  -- Fixed fragments only; the values are bound.
  IF p_packet IS NOT NULL THEN
    SET v_filter = 'm.packet = ? AND m.ready_at IS NULL';
    SET v_hint = ' FORCE INDEX (ix_messages_packet_ready)';
    SET @reminderly_a = p_packet, @reminderly_b = NULL;
  ELSE
    SET v_filter = 'm.send_after >= ? AND m.send_after < ? AND m.ready_at IS NULL';
    SET @reminderly_a = p_from, @reminderly_b = p_to;
  END IF;

  BEGIN
    DECLARE EXIT HANDLER FOR 1568
    BEGIN
      SET v_msg = CONCAT(p_routine, ': must not be called inside an open transaction (it commits its own)');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END;
    SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
  END;

  BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      ROLLBACK;
      RESIGNAL;
    END;
    START TRANSACTION;
    -- First the shared lock that keeps the set in service (a set being retired refuses the call),
    -- then the campaign_sets row that serialises marks of one campaign: pipeline_hold_set's lock order.
    CALL pipeline_hold_set(p_routine, p_campaign_id);
    SELECT campaign_id INTO @reminderly_lock FROM campaign_sets WHERE campaign_id = p_campaign_id FOR UPDATE;
    SET @reminderly_now = NOW(3);
    SET @reminderly_immediate = (SELECT id FROM run_types WHERE code = 'immediate');
    SET @reminderly_scheduled = (SELECT id FROM run_types WHERE code = 'scheduled');
    SET @reminderly_ready = (SELECT id FROM contact_statuses WHERE code = 'ready');
    SET @reminderly_sql = CONCAT(
      'INSERT INTO `', campaign_table_name(p_campaign_id, 'ready_queue'), '` (run_type_id, visible_at, message_id) ',
      'SELECT IF(m.send_after IS NULL, ?, ?), COALESCE(m.send_after, ?), m.id FROM `', v_messages, '` AS m', v_hint, ' WHERE ', v_filter);
    PREPARE reminderly_mark_queue FROM @reminderly_sql;
    IF p_packet IS NOT NULL THEN
      EXECUTE reminderly_mark_queue USING @reminderly_immediate, @reminderly_scheduled, @reminderly_now, @reminderly_a;
    ELSE
      EXECUTE reminderly_mark_queue USING @reminderly_immediate, @reminderly_scheduled, @reminderly_now, @reminderly_a, @reminderly_b;
    END IF;
    DEALLOCATE PREPARE reminderly_mark_queue;
    SET @reminderly_sql = CONCAT(
      'INSERT INTO `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` (message_id, method_id, status_id, updated_at) ',
      'SELECT m.id, m.method_id, ?, ? FROM `', v_messages, '` AS m', v_hint, ' WHERE ', v_filter);
    PREPARE reminderly_mark_status FROM @reminderly_sql;
    IF p_packet IS NOT NULL THEN
      EXECUTE reminderly_mark_status USING @reminderly_ready, @reminderly_now, @reminderly_a;
    ELSE
      EXECUTE reminderly_mark_status USING @reminderly_ready, @reminderly_now, @reminderly_a, @reminderly_b;
    END IF;
    DEALLOCATE PREPARE reminderly_mark_status;
    SET @reminderly_sql = CONCAT(
      'SELECT COALESCE(SUM(m.send_after IS NULL), 0), COALESCE(SUM(m.send_after IS NOT NULL), 0) INTO @reminderly_i, @reminderly_s ',
      'FROM `', v_messages, '` AS m', v_hint, ' WHERE ', v_filter, ' LOCK IN SHARE MODE');
    PREPARE reminderly_mark_count FROM @reminderly_sql;
    IF p_packet IS NOT NULL THEN
      EXECUTE reminderly_mark_count USING @reminderly_a;
    ELSE
      EXECUTE reminderly_mark_count USING @reminderly_a, @reminderly_b;
    END IF;
    DEALLOCATE PREPARE reminderly_mark_count;
    SET v_immediate = @reminderly_i, v_scheduled = @reminderly_s;
    SET @reminderly_sql = CONCAT('UPDATE `', v_messages, '` AS m', v_hint, ' SET m.ready_at = ? WHERE ', v_filter);
    PREPARE reminderly_mark_flag FROM @reminderly_sql;
    IF p_packet IS NOT NULL THEN
      EXECUTE reminderly_mark_flag USING @reminderly_now, @reminderly_a;
    ELSE
      EXECUTE reminderly_mark_flag USING @reminderly_now, @reminderly_a, @reminderly_b;
    END IF;
    DEALLOCATE PREPARE reminderly_mark_flag;
    COMMIT;
  END;
  SELECT p_campaign_id AS campaign_id, v_immediate + v_scheduled AS marked, v_immediate AS immediate, v_scheduled AS scheduled;
END$$
DELIMITER ;
