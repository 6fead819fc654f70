-- mark_packet_ready: marks one data packet of a campaign ready for sending.
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
-- @example user_id=1 campaign_id=1 packet=1
-- @returns marked
--
-- Purpose:    every loaded, not yet ready message of the packet goes into the ready queue
--             (see pipeline_mark_ready); messages already ready are left alone, so calling it
--             twice marks nothing the second time.
-- Access:     no @grant: it trusts the user id it is given, so only the owner's trusted tools
--             (which may read the tables anyway) call it. The application and reporting users
--             call session_mark_packet_ready, which takes the user from a session token instead.
-- Parameters: p_user_id      the user asking (checked against the campaign's company)
--             p_campaign_id  campaigns.id
--             p_packet       the packet number given at load time (0 or more)
-- Result set: one row: campaign_id, marked, immediate, scheduled
-- Errors:     SQLSTATE 45000: 'mark_packet_ready: packet must be 0 or more', the campaign checks
--             of pipeline_check_campaign and pipeline_hold_set (a set being retired: 'campaign N: its
--             table set is being retired; nothing was changed'), 'access denied ...' from
--             assert_company_access.
DROP PROCEDURE IF EXISTS mark_packet_ready;
DELIMITER $$
CREATE PROCEDURE mark_packet_ready(IN p_user_id BIGINT UNSIGNED, IN p_campaign_id BIGINT UNSIGNED, IN p_packet BIGINT)
    MODIFIES SQL DATA
BEGIN
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  IF p_packet IS NULL OR p_packet < 0 OR p_packet > 4294967295 THEN
    SET v_msg = CONCAT('mark_packet_ready: packet must be between 0 and 4294967295, got ', COALESCE(p_packet, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  CALL pipeline_mark_ready('mark_packet_ready', p_user_id, p_campaign_id, p_packet, NULL, NULL);
END$$
DELIMITER ;
