-- health_campaigns: the queue and batch metrics of every active campaign (or one), for `reminderly-db health`.
--
-- @setup INSERT INTO companies (id, name) VALUES (1, 'example')
-- @setup INSERT INTO users (id, company_id, role_id, email)
--          SELECT 1, 1, id, 'admin@example.com' FROM roles WHERE name = 'administrator'
-- @setup INSERT INTO contacts (id, company_id, name) VALUES (1, 1, 'contact')
-- @setup INSERT INTO contact_channels (contact_id, method_id, address) VALUES (1, 1, 'c1@example.com')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--          SELECT 1, 1, 'example', id, 'active' FROM run_types WHERE code = 'immediate'
-- @setup CALL campaign_set_create(1, @created)
-- @setup INSERT INTO campaign_1_messages (contact_id, method_id, packet, subject, body) VALUES (1, 1, 1, 'Hello', 'Body'), (1, 1, 1, 'Hello', 'Body')
-- @setup CALL mark_packet_ready(1, 1, 1)
-- @setup CALL claim_batch(1, 'immediate', 'example', 1, 60)
-- @setup CALL complete_batch(1, '[{"message_id": 1, "status": "sent"}]')
-- @example campaign_id=NULL window_minutes=15
-- @example campaign_id=1 window_minutes=60
-- @returns campaigns: campaign_id BIGINT UNSIGNED, name VARCHAR(200), state VARCHAR(16), ready BIGINT UNSIGNED,
--            claimed BIGINT UNSIGNED, completed BIGINT UNSIGNED, sent BIGINT UNSIGNED, failed BIGINT UNSIGNED, retried BIGINT UNSIGNED,
--            oldest_ready_at DATETIME(3) NULL, oldest_ready_seconds BIGINT NULL, leases_open BIGINT UNSIGNED,
--            leases_expired BIGINT UNSIGNED, expired_lease_messages BIGINT UNSIGNED, claimed_in_window BIGINT UNSIGNED,
--            batches_in_window BIGINT UNSIGNED, window_minutes INT
-- @grant reporting
--
-- Purpose:    what `reminderly-db health` reports per campaign, every minute, for 1,000 campaigns:
--             so nothing here reads a campaign's messages table. The counts come from what is
--             small and indexed (same definitions as campaign_summary's overview):
--               ready, expired_lease_messages, oldest_ready_at: the claimable part of the ready
--                 queue, a range of its primary key (run_type_id IN (lanes), visible_at <= now);
--                 an entry with a batch_id there is held by a batch whose lease ran out
--               claimed, leases_open: open batches (not completed, lease running), by
--                 ix_batches_campaign (campaign_id, completed_at, lease_until)
--               leases_expired: batches not completed whose lease ran out and that still hold
--                 queue entries (a held entry sits at (run_type_id, lease_until, message_id), so
--                 each check is a primary-key prefix lookup, written as a scalar subquery in the
--                 select list: as EXISTS in WHERE, MariaDB turned it into a semi-join that
--                 materialised the whole queue); an expired batch whose messages were
--                 all claimed again no longer counts: nothing is stuck behind it
--               completed, sent, failed, retried: outcomes reported by completed batches:
--                 completed = messages finished (every outcome except released and failures
--                 scheduled for a retry), sent = 'sent' outcomes, failed = failures with no retry
--                 left, retried = failures scheduled for a retry (tries, not messages); from
--                 batches by ix_batches_campaign and batches_history by ix_batches_history_campaign
--                 (one index entry per batch, not per message). batches_history has no
--                 retry/released counts, so a moved batch counts all its messages as completed
--                 and all its failures as final
--               claimed_in_window, batches_in_window: messages and batches claimed in the last
--                 p_window_minutes, by ix_batches_campaign_claimed (indexes/V0051), covering
--             Cost: proportional to each campaign's claimable backlog, open/expired batches and
--             completed batches, never to its messages.
-- Shows:      every company's active campaigns (id, name, state) and their queue and batch
--             counts; no message, contact or address. To: the platform's operators only (the
--             reporting account, as used by `reminderly-db health` and monitoring), who run the
--             queues of every company: it takes no user and checks no company, so it is never
--             granted to the application, and a dashboard a company's users see must call
--             session_campaign_summary with their session instead.
-- Parameters: p_campaign_id     campaigns.id, or NULL for every campaign whose table set is
--                               active (or upgrading) at the pipeline's template version
--             p_window_minutes  1 to 1440: the claim-rate window
-- Result set: one row per campaign, by campaign_id: campaign_id, name, state (the campaign's),
--             ready, claimed, completed, sent, failed, retried, oldest_ready_at (NULL when nothing is
--             claimable), oldest_ready_seconds (its age on the server's clock), leases_open,
--             leases_expired, expired_lease_messages, claimed_in_window, batches_in_window,
--             window_minutes
-- Errors:     SQLSTATE 45000 'health_campaigns: window_minutes must be between 1 and 1440';
--             with a campaign_id, the checks of pipeline_check_campaign.
-- Declared READS SQL DATA: the only table it writes is a session temporary table, which read_only
-- servers allow too, so the reporting user may call it and a router may send it to a replica
-- (figures then lag by the replica's lag: pass { route: 'primary' } for live ones;
-- `reminderly-db health` reads the primary).
DROP PROCEDURE IF EXISTS health_campaigns;
DELIMITER $$
CREATE PROCEDURE health_campaigns(IN p_campaign_id BIGINT UNSIGNED, IN p_window_minutes INT)
    READS SQL DATA
BEGIN
  DECLARE v_company_id BIGINT UNSIGNED;
  DECLARE v_needed INT UNSIGNED;
  DECLARE v_lanes VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_now DATETIME(3);
  DECLARE v_campaign_id BIGINT UNSIGNED;
  DECLARE v_queue VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_done INT DEFAULT 0;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE c_sets CURSOR FOR
    SELECT s.campaign_id FROM campaign_sets s
     WHERE s.state IN ('active', 'upgrading') AND s.template_version >= v_needed
       AND (p_campaign_id IS NULL OR s.campaign_id = p_campaign_id)
     ORDER BY s.campaign_id;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = 1;

  IF p_window_minutes IS NULL OR p_window_minutes < 1 OR p_window_minutes > 1440 THEN
    SET v_msg = CONCAT('health_campaigns: window_minutes must be between 1 and 1440, got ', COALESCE(p_window_minutes, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF p_campaign_id IS NOT NULL THEN
    CALL pipeline_check_campaign('health_campaigns', p_campaign_id, v_company_id);
  END IF;
  SELECT MIN(version) INTO v_needed FROM campaign_template_steps WHERE table_kind = 'ready_queue';
  -- Every lane by id, so the queue is read as ranges of its primary key, not walked whole.
  SELECT GROUP_CONCAT(id ORDER BY id) INTO v_lanes FROM run_types;
  SET v_now = NOW(3);
  SET @reminderly_now = v_now;

  DROP TEMPORARY TABLE IF EXISTS health_campaign_queue;
  CREATE TEMPORARY TABLE health_campaign_queue (
    campaign_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    ready BIGINT UNSIGNED NOT NULL,
    expired_lease_messages BIGINT UNSIGNED NOT NULL,
    oldest_ready_at DATETIME(3) NULL,
    leases_expired BIGINT UNSIGNED NOT NULL
  ) ENGINE = InnoDB;

  OPEN c_sets;
  read_sets: LOOP
    FETCH c_sets INTO v_campaign_id;
    IF v_done THEN
      LEAVE read_sets;
    END IF;
    SET v_queue = campaign_table_name(v_campaign_id, 'ready_queue');
    SET @reminderly_campaign = v_campaign_id;
    SET @reminderly_sql = CONCAT(
      'INSERT INTO health_campaign_queue (campaign_id, ready, expired_lease_messages, oldest_ready_at, leases_expired) ',
      'SELECT ?, COALESCE(SUM(q.batch_id IS NULL), 0), COALESCE(SUM(q.batch_id IS NOT NULL), 0), MIN(q.visible_at), ',
      '(SELECT COALESCE(SUM((SELECT 1 FROM `', v_queue, '` AS e WHERE e.run_type_id = b.run_type_id AND e.visible_at = b.lease_until ',
      'AND e.batch_id = b.id LIMIT 1) IS NOT NULL), 0) FROM batches b WHERE b.campaign_id = ? AND b.completed_at IS NULL AND b.lease_until < ?) ',
      'FROM `', v_queue, '` AS q WHERE q.run_type_id IN (', COALESCE(v_lanes, 'NULL'), ') AND q.visible_at <= ?');
    PREPARE reminderly_health_queue FROM @reminderly_sql;
    EXECUTE reminderly_health_queue USING @reminderly_campaign, @reminderly_campaign, @reminderly_now, @reminderly_now;
    DEALLOCATE PREPARE reminderly_health_queue;
  END LOOP;
  CLOSE c_sets;

  SELECT h.campaign_id, c.name, CAST(c.state AS CHAR(16)) AS state, h.ready,
         (SELECT CAST(COALESCE(SUM(b.message_count), 0) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.completed_at IS NULL AND b.lease_until >= v_now) AS claimed,
         (SELECT CAST(COALESCE(SUM(b.message_count - b.released_count - b.retry_count), 0) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.completed_at IS NOT NULL)
           + (SELECT CAST(COALESCE(SUM(bh.message_count), 0) AS UNSIGNED) FROM batches_history bh
               WHERE bh.campaign_id = h.campaign_id AND bh.completed_at IS NOT NULL) AS completed,
         (SELECT CAST(COALESCE(SUM(b.sent_count), 0) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.completed_at IS NOT NULL)
           + (SELECT CAST(COALESCE(SUM(bh.sent_count), 0) AS UNSIGNED) FROM batches_history bh
               WHERE bh.campaign_id = h.campaign_id AND bh.completed_at IS NOT NULL) AS sent,
         (SELECT CAST(COALESCE(SUM(b.failed_count - b.retry_count), 0) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.completed_at IS NOT NULL)
           + (SELECT CAST(COALESCE(SUM(bh.failed_count), 0) AS UNSIGNED) FROM batches_history bh
               WHERE bh.campaign_id = h.campaign_id AND bh.completed_at IS NOT NULL) AS failed,
         (SELECT CAST(COALESCE(SUM(b.retry_count), 0) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.completed_at IS NOT NULL) AS retried,
         h.oldest_ready_at,
         CAST(TIMESTAMPDIFF(SECOND, h.oldest_ready_at, v_now) AS SIGNED) AS oldest_ready_seconds,
         (SELECT CAST(COUNT(*) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.completed_at IS NULL AND b.lease_until >= v_now) AS leases_open,
         h.leases_expired, h.expired_lease_messages,
         (SELECT CAST(COALESCE(SUM(b.message_count), 0) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.claimed_at >= v_now - INTERVAL p_window_minutes MINUTE) AS claimed_in_window,
         (SELECT CAST(COUNT(*) AS UNSIGNED) FROM batches b
           WHERE b.campaign_id = h.campaign_id AND b.claimed_at >= v_now - INTERVAL p_window_minutes MINUTE) AS batches_in_window,
         p_window_minutes AS window_minutes
    FROM health_campaign_queue h
    JOIN campaigns c ON c.id = h.campaign_id
   ORDER BY h.campaign_id;
  DROP TEMPORARY TABLE IF EXISTS health_campaign_queue;
END$$
DELIMITER ;
