-- session_mark_packet_ready: mark_packet_ready for the end user of a session.
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
-- @setup CALL session_issue(1, REPEAT('5a', 32), 3600)
-- @example session_token=REPEAT('5a', 32) campaign_id=1 packet=1
-- @returns marked
-- @grant application
--
-- Purpose:    what mark_packet_ready does (see pipeline_mark_ready), acting for the user whose
--             session the token names (session_resolve), never for a user id the caller names:
--             the application may mark only campaigns of companies that user's role may see.
-- Parameters: p_session_token  the token session_issue recorded for the end user
--             p_campaign_id    campaigns.id
--             p_packet         the packet number given at load time (0 or more)
-- Result set: one row: campaign_id, marked, immediate, scheduled
-- Errors:     SQLSTATE 45000: 'session_mark_packet_ready: packet must be ...', the session checks
--             of session_resolve, the campaign checks of pipeline_check_campaign and
--             pipeline_hold_set (a set being retired), 'access denied ...' from assert_company_access. Nothing is marked when any check fails.
DROP PROCEDURE IF EXISTS session_mark_packet_ready;
DELIMITER $$
CREATE PROCEDURE session_mark_packet_ready(IN p_session_token VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, IN p_campaign_id BIGINT UNSIGNED, IN p_packet BIGINT)
    MODIFIES SQL DATA
BEGIN
  DECLARE v_user_id BIGINT UNSIGNED;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  CALL session_resolve('session_mark_packet_ready', p_session_token, v_user_id);
  IF p_packet IS NULL OR p_packet < 0 OR p_packet > 4294967295 THEN
    SET v_msg = CONCAT('session_mark_packet_ready: packet must be between 0 and 4294967295, got ', COALESCE(p_packet, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  CALL pipeline_mark_ready('session_mark_packet_ready', v_user_id, p_campaign_id, p_packet, NULL, NULL);
END$$
DELIMITER ;
