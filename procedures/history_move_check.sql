-- history_move_check: the checks and the one definition of "finished" shared by the history moves.
--
-- Purpose:    history_move and history_move_preview (and `campaign retire`, through the preview)
--             must agree on which messages are finished and which may move, so the definitions
--             live here, as SQL conditions on a messages row aliased m of the campaign's set:
--               finished  the message has at least one current status (message_contact_status
--                         row) and every one of them is final (contact_statuses.is_final = 1)
--               eligible  finished, and no current status changed at or after a cutoff time
--                         (bound as the condition's only ? placeholder)
--               unfinished  the negation of finished (no status yet, or one not final)
--             Also checks the campaign argument: it exists, has a table set, the set is active
--             (not retired, not left half-created or half-upgraded), and the age in days.
-- Parameters: p_routine           the calling routine's name, for the error messages
--             p_campaign_id       campaigns.id
--             p_older_than_days   0 to 36500
--             p_eligible          OUT: the eligible condition (one ? placeholder: the cutoff)
--             p_unfinished        OUT: the unfinished condition (no placeholder)
-- Result set: none
-- Errors:     SQLSTATE 45000, each starting with the calling routine's name:
--             'campaign_id must be given' | 'campaign_id N does not exist' |
--             'campaign N has no table set' | 'campaign N: its table set is retired' |
--             'campaign N: its table set is being retired; nothing was changed' (not for the preview) |
--             'campaign N: its table set is <state> (run campaign upgrade --all)' |
--             'older_than_days must be 0 to 36500, got X'
-- @internal
DROP PROCEDURE IF EXISTS history_move_check;
DELIMITER $$
CREATE PROCEDURE history_move_check(
  IN p_routine VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_campaign_id BIGINT UNSIGNED,
  IN p_older_than_days INT,
  OUT p_eligible TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  OUT p_unfinished TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)
READS SQL DATA
BEGIN
  DECLARE v_exists INT DEFAULT 0;
  DECLARE v_state VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL;
  DECLARE v_mcs VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  SET p_eligible = NULL, p_unfinished = NULL;
  IF p_campaign_id IS NULL THEN
    SET v_msg = CONCAT(p_routine, ': campaign_id must be given');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT COUNT(*) INTO v_exists FROM campaigns WHERE id = p_campaign_id;
  IF v_exists = 0 THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign_id ', p_campaign_id, ' does not exist'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT state INTO v_state FROM campaign_sets WHERE campaign_id = p_campaign_id;
  IF v_state IS NULL THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ' has no table set'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_state = 'retired' THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ': its table set is retired'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  -- A set being retired takes no moves (retire's dump must stay what it verified); the preview
  -- only reads, and is how retire counts the unfinished messages of the set it has frozen.
  IF v_state = 'retiring' AND p_routine <> 'history_move_preview' THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ': its table set is being retired; nothing was changed'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_state NOT IN ('active', 'retiring') THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ': its table set is ', v_state, ' (run campaign upgrade --all)'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF p_older_than_days IS NULL OR p_older_than_days < 0 OR p_older_than_days > 36500 THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': older_than_days must be 0 to 36500, got ', COALESCE(p_older_than_days, 'NULL')), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;

  SET v_mcs = campaign_table_name(p_campaign_id, 'message_contact_status');
  -- Scalar subqueries, correlated on the status table's primary key (message_id, method_id):
  -- one index lookup per message looked at. EXISTS/NOT EXISTS forms were turned into semi-join
  -- materializations of the whole status table, once per chunk; and without STRAIGHT_JOIN both
  -- servers may start from the 11-row contact_statuses and read the status table by its status
  -- index: every message with that status, for every message looked at (seconds per chunk).
  SET p_eligible = CONCAT(
    '(SELECT MIN(hs.is_final = 1 AND hc.updated_at < ?) FROM `', v_mcs, '` hc FORCE INDEX (PRIMARY) ',
    'STRAIGHT_JOIN contact_statuses hs ON hs.id = hc.status_id WHERE hc.message_id = m.id) = 1');
  SET p_unfinished = CONCAT(
    'COALESCE((SELECT MIN(hs.is_final) FROM `', v_mcs, '` hc FORCE INDEX (PRIMARY) ',
    'STRAIGHT_JOIN contact_statuses hs ON hs.id = hc.status_id WHERE hc.message_id = m.id), 0) = 0');
END$$
DELIMITER ;
