-- mark_ready: marks a campaign's messages due in a send_after window ready for sending.
--
-- Purpose:    every loaded, not yet ready message with p_from <= send_after < p_to goes into the
--             ready queue's 'scheduled' lane, claimable from its send_after (see
--             pipeline_mark_ready). Messages without send_after are marked by packet instead.
-- Parameters: p_user_id      the user asking (checked against the campaign's company)
--             p_campaign_id  campaigns.id
--             p_from, p_to   the window, UTC, from inclusive, to exclusive; from < to
-- Result set: one row: campaign_id, marked, immediate (always 0), scheduled
-- Errors:     SQLSTATE 45000: 'mark_ready: from and to must be given, from before to', the campaign
--             checks of pipeline_check_campaign, 'access denied ...' from assert_company_access.
DROP PROCEDURE IF EXISTS mark_ready;
DELIMITER $$
CREATE PROCEDURE mark_ready(IN p_user_id BIGINT UNSIGNED, IN p_campaign_id BIGINT UNSIGNED, IN p_from DATETIME(3), IN p_to DATETIME(3))
    MODIFIES SQL DATA
BEGIN
  IF p_from IS NULL OR p_to IS NULL OR p_from >= p_to THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'mark_ready: from and to must be given, from before to';
  END IF;
  CALL pipeline_mark_ready('mark_ready', p_user_id, p_campaign_id, NULL, p_from, p_to);
END$$
DELIMITER ;
