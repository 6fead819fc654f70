-- pipeline_check_campaign: the checks every pipeline routine makes on its campaign argument.
--
-- @internal
--
-- Purpose:    one place for "is this a campaign the pipeline can work on": it exists, its table
--             set exists, is not retired, and is at a template version that has the ready queue.
-- Parameters: p_routine      name of the calling routine, for the error messages
--             p_campaign_id  campaigns.id
--             p_company_id   OUT: the campaign's company
-- Result:     none.
-- Errors:     SQLSTATE 45000, each starting with the calling routine's name:
--             'campaign_id must be given' | 'campaign_id N does not exist' |
--             'campaign N has no table set' | 'campaign N: its table set is retired' |
--             'campaign N: table set at template vX, the pipeline needs vY (run migrate up)'
DROP PROCEDURE IF EXISTS pipeline_check_campaign;
DELIMITER $$
CREATE PROCEDURE pipeline_check_campaign(
  IN p_routine VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_campaign_id BIGINT UNSIGNED,
  OUT p_company_id BIGINT UNSIGNED)
    READS SQL DATA
BEGIN
  DECLARE v_set_state VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_version INT UNSIGNED;
  DECLARE v_needed INT UNSIGNED;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  SET p_company_id = NULL;
  IF p_campaign_id IS NULL THEN
    SET v_msg = CONCAT(p_routine, ': campaign_id must be given');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT c.company_id, s.state, s.template_version INTO p_company_id, v_set_state, v_version
    FROM campaigns c LEFT JOIN campaign_sets s ON s.campaign_id = c.id
   WHERE c.id = p_campaign_id;
  IF p_company_id IS NULL THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign_id ', p_campaign_id, ' does not exist'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_set_state IS NULL THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ' has no table set (campaign create)'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_set_state = 'retired' THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ': its table set is retired'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT MIN(version) INTO v_needed FROM campaign_template_steps WHERE table_kind = 'ready_queue';
  IF v_needed IS NULL OR v_version < v_needed THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ': table set at template v', v_version,
                            ', the pipeline needs v', COALESCE(v_needed, '?'), ' (run migrate up)'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END$$
DELIMITER ;
