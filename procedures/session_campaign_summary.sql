-- session_campaign_summary: campaign_summary for the end user of a session.
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
-- @setup CALL mark_packet_ready(1, 1, 1)
-- @setup CALL claim_batch(1, 'immediate', 'example', 10, 60)
-- @setup CALL complete_batch(1, '[{"message_id": 1, "status": "sent"}]')
-- @setup CALL session_issue(1, REPEAT('5a', 32), 3600)
-- @example session_token=REPEAT('5a', 32) campaign_id=1
-- @returns statuses: status VARCHAR(32), method VARCHAR(32), messages BIGINT
-- @returns overview: campaign_id BIGINT UNSIGNED, messages BIGINT, pending BIGINT, queued BIGINT,
--            scheduled BIGINT, in_flight BIGINT, lease_expired BIGINT, oldest_ready_at DATETIME(3) NULL,
--            batches_open BIGINT, batches_expired BIGINT, batches_completed BIGINT
-- @returns lanes: run_type VARCHAR(32), queued BIGINT, oldest_ready_at DATETIME(3) NULL
-- @grant application, reporting
--
-- Purpose:    the result sets of campaign_summary (counts by status and method, the ready queue,
--             the batches) of one campaign, for the user whose session the token names
--             (session_resolve), never for a user id the caller names.
-- Shows:      counts only (no message, contact or address), of a campaign of a company the
--             session's user's role may see; to the application and to reporting dashboards
--             acting for that logged-in user.
-- Parameters: p_session_token  the token session_issue recorded for the end user
--             p_campaign_id    campaigns.id
-- Result sets: those of campaign_summary.
-- Errors:     SQLSTATE 45000: the session checks of session_resolve, then those of
--             campaign_summary (pipeline_check_campaign, 'access denied ...').
DROP PROCEDURE IF EXISTS session_campaign_summary;
DELIMITER $$
CREATE PROCEDURE session_campaign_summary(IN p_session_token VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, IN p_campaign_id BIGINT UNSIGNED)
    READS SQL DATA
BEGIN
  DECLARE v_user_id BIGINT UNSIGNED;
  CALL session_resolve('session_campaign_summary', p_session_token, v_user_id);
  CALL campaign_summary(v_user_id, p_campaign_id);
END$$
DELIMITER ;
