-- history_move_all: history_move for every active campaign set, for a MySQL/MariaDB EVENT.
--
-- Purpose:    the database-side alternative to `reminderly-db maintenance history --all` (see
--             "Scheduling maintenance" in tools/maintenance/README.md): calls history_move for every set whose
--             state is 'active', in campaign id order, until nothing eligible is left in it. A
--             set that fails (e.g. its lock is held for over 60 s) does not stop the others:
--             they go on, and the failures are reported at the end. Each history_move chunk is
--             its own transaction, so a killed run loses nothing and the next run goes on.
-- Parameters: p_older_than_days   0 to 36500, as for history_move
--             p_chunk             1 to 10000 messages per transaction, as for history_move
-- Result sets: history_move's one-row result set for each set moved (discarded when run by an
--             EVENT), then none.
-- Errors:     SQLSTATE 45000 'history_move_all: N set(s) failed, first: <history_move's message>'
--             after every set was tried; 'history_move_all: older_than_days ...' / '... chunk ...'
--             for bad arguments (checked before any set is touched).
-- @internal
DROP PROCEDURE IF EXISTS history_move_all;
DELIMITER $$
CREATE PROCEDURE history_move_all(IN p_older_than_days INT, IN p_chunk INT)
MODIFIES SQL DATA
BEGIN
  DECLARE v_campaign_id BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_failed INT DEFAULT 0;
  DECLARE v_first_error VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  IF p_older_than_days IS NULL OR p_older_than_days < 0 OR p_older_than_days > 36500 THEN
    SET v_msg = CONCAT('history_move_all: older_than_days must be 0 to 36500, got ', COALESCE(p_older_than_days, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF p_chunk IS NULL OR p_chunk < 1 OR p_chunk > 10000 THEN
    SET v_msg = CONCAT('history_move_all: chunk must be 1 to 10000 messages, got ', COALESCE(p_chunk, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  sets: LOOP
    -- The next set by id, read afresh each time (no cursor held open across the moves' commits).
    SET v_campaign_id = (SELECT MIN(campaign_id) FROM campaign_sets WHERE state = 'active' AND campaign_id > v_campaign_id);
    IF v_campaign_id IS NULL THEN
      LEAVE sets;
    END IF;
    BEGIN
      DECLARE CONTINUE HANDLER FOR SQLEXCEPTION
      BEGIN
        GET DIAGNOSTICS CONDITION 1 v_msg = MESSAGE_TEXT;
        SET v_failed = v_failed + 1, v_first_error = COALESCE(v_first_error, v_msg);
      END;
      CALL history_move(v_campaign_id, p_older_than_days, p_chunk, NULL, NULL);
    END;
  END LOOP;
  IF v_failed > 0 THEN
    SET v_msg = LEFT(CONCAT('history_move_all: ', v_failed, ' set(s) failed, first: ', v_first_error), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END$$
DELIMITER ;
