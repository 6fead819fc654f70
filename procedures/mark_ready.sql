-- mark_ready: marks a campaign's messages due in a send_after window ready for sending.
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
-- @example user_id=1 campaign_id=1 from='2026-01-01' to='2026-02-01'
-- @returns marked
--
-- Purpose:    every loaded, not yet ready message with p_from <= send_after < p_to goes into the
--             ready queue's 'scheduled' lane, claimable from its send_after (see
--             pipeline_mark_ready). Messages without send_after are marked by packet instead.
-- Access:     no @grant: it trusts the user id it is given, so only the owner's trusted tools
--             (which may read the tables anyway) call it. The application and reporting users
--             call session_mark_ready, which takes the user from a session token instead.
-- Parameters: p_user_id      the user asking (checked against the campaign's company)
--             p_campaign_id  campaigns.id
--             p_from, p_to   the window, UTC, from inclusive, to exclusive; from < to
-- Result set: one row: campaign_id, marked, immediate (always 0), scheduled
-- Errors:     SQLSTATE 45000: 'mark_ready: from and to must be given, from before to', the campaign
--             checks of pipeline_check_campaign and pipeline_hold_set (a set being retired: 'campaign N:
--             its table set is being retired; nothing was changed'), 'access denied ...' from
--             assert_company_access.
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
