-- campaign_summary: where a campaign's messages stand, for reporting.
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
-- @example user_id=1 campaign_id=1
-- @returns statuses: status VARCHAR(32), method VARCHAR(32), messages BIGINT
-- @returns overview: campaign_id BIGINT UNSIGNED, messages BIGINT, pending BIGINT, queued BIGINT,
--            scheduled BIGINT, in_flight BIGINT, lease_expired BIGINT, oldest_ready_at DATETIME(3) NULL,
--            batches_open BIGINT, batches_expired BIGINT, batches_completed BIGINT
-- @returns lanes: run_type VARCHAR(32), queued BIGINT, oldest_ready_at DATETIME(3) NULL
--
-- The shapes are declared because the servers' metadata disagree on computed columns (MySQL calls
-- a bound parameter and a scalar COUNT subquery nullable, MariaDB does not); codegen checks the
-- declaration against real calls on both.
--
-- Purpose:    counts by current status and method, the state of the ready queue (oldest
--             claimable message: how far behind the workers are) and of the batches.
-- Access:     no @grant: it trusts the user id it is given, so only the owner's trusted tools
--             (which may read the tables anyway) call it. The application and reporting users
--             call session_campaign_summary, which takes the user from a session token instead.
-- Parameters: p_user_id      the user asking (checked against the campaign's company)
--             p_campaign_id  campaigns.id
-- Result sets:
--             1. status, method, messages: one row per current status and method; messages
--                loaded but not yet marked ready count as 'pending'
--             2. one row: campaign_id, messages, pending, queued (claimable now), scheduled
--                (claimable later), in_flight (held by a batch whose lease runs), lease_expired
--                (held by an expired batch, claimable again), oldest_ready_at (the oldest
--                claimable entry's visible_at, NULL when none), batches_open, batches_expired
--                (lease ended, not completed, and still holding messages: a batch whose
--                messages were all claimed again by other batches is dead and not counted),
--                batches_completed
--             3. run_type, queued, oldest_ready_at: the claimable entries per lane
-- Errors:     SQLSTATE 45000: the campaign checks of pipeline_check_campaign, 'access denied ...'.
DROP PROCEDURE IF EXISTS campaign_summary;
DELIMITER $$
CREATE PROCEDURE campaign_summary(IN p_user_id BIGINT UNSIGNED, IN p_campaign_id BIGINT UNSIGNED)
    READS SQL DATA
BEGIN
  DECLARE v_company_id BIGINT UNSIGNED;
  DECLARE v_messages VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_queue VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

  CALL pipeline_check_campaign('campaign_summary', p_campaign_id, v_company_id);
  CALL assert_company_access(p_user_id, v_company_id);
  SET v_messages = campaign_table_name(p_campaign_id, 'messages');
  SET v_queue = campaign_table_name(p_campaign_id, 'ready_queue');
  SET @reminderly_now = NOW(3), @reminderly_campaign = p_campaign_id;

  SET @reminderly_sql = CONCAT(
    'SELECT s.code AS status, cm.code AS method, COUNT(*) AS messages FROM `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` AS c ',
    'JOIN contact_statuses s ON s.id = c.status_id JOIN contact_methods cm ON cm.id = c.method_id GROUP BY s.code, cm.code ',
    'UNION ALL ',
    'SELECT ''pending'', cm.code, COUNT(*) FROM `', v_messages, '` AS m JOIN contact_methods cm ON cm.id = m.method_id ',
    'WHERE m.ready_at IS NULL GROUP BY cm.code ORDER BY status, method');
  PREPARE reminderly_summary_status FROM @reminderly_sql;
  EXECUTE reminderly_summary_status;
  DEALLOCATE PREPARE reminderly_summary_status;

  SET @reminderly_sql = CONCAT(
    'SELECT CAST(? AS UNSIGNED) AS campaign_id, ',
    '(SELECT COUNT(*) FROM `', v_messages, '`) AS messages, ',
    '(SELECT COUNT(*) FROM `', v_messages, '` WHERE ready_at IS NULL) AS pending, ',
    'CAST(COALESCE(SUM(q.batch_id IS NULL AND q.visible_at <= ?), 0) AS UNSIGNED) AS queued, ',
    'CAST(COALESCE(SUM(q.batch_id IS NULL AND q.visible_at > ?), 0) AS UNSIGNED) AS scheduled, ',
    'CAST(COALESCE(SUM(q.batch_id IS NOT NULL AND q.visible_at > ?), 0) AS UNSIGNED) AS in_flight, ',
    'CAST(COALESCE(SUM(q.batch_id IS NOT NULL AND q.visible_at <= ?), 0) AS UNSIGNED) AS lease_expired, ',
    'MIN(IF(q.visible_at <= ?, q.visible_at, NULL)) AS oldest_ready_at, ',
    '(SELECT COUNT(*) FROM batches b WHERE b.campaign_id = ? AND b.completed_at IS NULL AND b.lease_until >= ?) AS batches_open, ',
    '(SELECT COUNT(*) FROM batches b WHERE b.campaign_id = ? AND b.completed_at IS NULL AND b.lease_until < ? ',
    ' AND EXISTS (SELECT 1 FROM `', v_queue, '` AS x WHERE x.run_type_id = b.run_type_id AND x.visible_at = b.lease_until AND x.batch_id = b.id)) AS batches_expired, ',
    '(SELECT COUNT(*) FROM batches b WHERE b.campaign_id = ? AND b.completed_at IS NOT NULL) AS batches_completed ',
    'FROM `', v_queue, '` AS q');
  PREPARE reminderly_summary_overview FROM @reminderly_sql;
  EXECUTE reminderly_summary_overview USING @reminderly_campaign, @reminderly_now, @reminderly_now, @reminderly_now, @reminderly_now,
    @reminderly_now, @reminderly_campaign, @reminderly_now, @reminderly_campaign, @reminderly_now, @reminderly_campaign;
  DEALLOCATE PREPARE reminderly_summary_overview;

  SET @reminderly_sql = CONCAT(
    -- Pinned: run types in code order, then each lane's range of the queue's primary key (MySQL
    -- otherwise flips to walking the whole queue when its statistics shift).
    'SELECT r.code AS run_type, COUNT(*) AS queued, MIN(q.visible_at) AS oldest_ready_at FROM run_types r ',
    'STRAIGHT_JOIN `', v_queue, '` AS q ON q.run_type_id = r.id WHERE q.visible_at <= ? GROUP BY r.code ORDER BY r.code');
  PREPARE reminderly_summary_lanes FROM @reminderly_sql;
  EXECUTE reminderly_summary_lanes USING @reminderly_now;
  DEALLOCATE PREPARE reminderly_summary_lanes;
END$$
DELIMITER ;
