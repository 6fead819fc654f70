-- campaign_set_drop: drops a campaign's table set and marks it (and the campaign) retired.
--
-- Purpose:    the last step of `campaign retire`, which calls it only after a verified dump of
--             every table of the set. Tables are dropped in the reverse order of the template
--             steps that created them (children before the tables they reference), so foreign
--             key checks stay on. The set's step records go (a retired set has no tables); its
--             upgrade history stays. Drops are idempotent (IF EXISTS): a killed retire is
--             finished by calling it again, also on a set already marked retired.
-- Parameters: p_campaign_id  campaigns.id
-- Result set: none
-- @setup INSERT INTO companies (id, name) VALUES (1, 'Example company')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--        SELECT 1, 1, 'Example campaign', id, 'active' FROM run_types WHERE code = 'immediate'
-- @setup CALL campaign_set_create(1, @created)
-- @example campaign_id=1
-- @returns none
-- Errors:     SQLSTATE 45000 'campaign_set_drop: campaign id must be given' /
--             '...: unknown campaign <id>' / '...: campaign <id> has no table set' /
--             '...: campaign <id>: another session is changing its table set (waited 60 s)' /
--             '...: must not be called inside an open transaction (its DDL would commit it)'
DROP PROCEDURE IF EXISTS campaign_set_drop;
DELIMITER $$
CREATE PROCEDURE campaign_set_drop(IN p_campaign_id BIGINT UNSIGNED)
MODIFIES SQL DATA
BEGIN
  DECLARE v_lock VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  IF p_campaign_id IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'campaign_set_drop: campaign id must be given';
  END IF;
  BEGIN
    DECLARE EXIT HANDLER FOR 1568
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'campaign_set_drop: must not be called inside an open transaction (its DDL would commit it)';
    SET TRANSACTION READ WRITE;
  END;
  SET v_lock = campaign_set_lock_name(p_campaign_id);
  IF COALESCE(GET_LOCK(v_lock, 60), 0) <> 1 THEN
    SET v_msg = CONCAT('campaign_set_drop: campaign ', p_campaign_id, ': another session is changing its table set (waited 60 s)');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;

  BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      ROLLBACK;
      DO RELEASE_LOCK(v_lock);
      RESIGNAL;
    END;
    IF NOT EXISTS (SELECT 1 FROM campaigns WHERE id = p_campaign_id) THEN
      SET v_msg = CONCAT('campaign_set_drop: unknown campaign ', p_campaign_id);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM campaign_sets WHERE campaign_id = p_campaign_id) THEN
      SET v_msg = CONCAT('campaign_set_drop: campaign ', p_campaign_id, ' has no table set');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;

    BEGIN
      DECLARE v_done BOOLEAN DEFAULT FALSE;
      DECLARE v_kind VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
      -- Newest first step first; kinds no step creates (no table) come last.
      DECLARE kinds CURSOR FOR
        SELECT k.kind
          FROM campaign_table_kinds k
          LEFT JOIN (SELECT table_kind, MIN(version * 65536 + step) AS first_step
                       FROM campaign_template_steps GROUP BY table_kind) f ON f.table_kind = k.kind
         ORDER BY f.first_step IS NULL, f.first_step DESC, k.kind;
      DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = TRUE;
      OPEN kinds;
      drops: LOOP
        FETCH kinds INTO v_kind;
        IF v_done THEN
          LEAVE drops;
        END IF;
        SET @reminderly_sql = CONCAT('DROP TABLE IF EXISTS `', campaign_table_name(p_campaign_id, v_kind), '`');
        PREPARE reminderly_set_drop FROM @reminderly_sql;
        EXECUTE reminderly_set_drop;
        DEALLOCATE PREPARE reminderly_set_drop;
      END LOOP;
      CLOSE kinds;
    END;

    START TRANSACTION;
    DELETE FROM campaign_set_steps WHERE campaign_id = p_campaign_id;
    UPDATE campaign_sets SET state = 'retired', retired_at = COALESCE(retired_at, CURRENT_TIMESTAMP(3))
     WHERE campaign_id = p_campaign_id;
    UPDATE campaigns SET state = 'retired' WHERE id = p_campaign_id;
    COMMIT;
    SET @reminderly_sql = NULL;
  END;
  DO RELEASE_LOCK(v_lock);
END$$
DELIMITER ;
