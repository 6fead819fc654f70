-- campaign_set_create: creates a campaign's table set at the newest template version.
--
-- Purpose:    registers the set and runs every step of every template version in order (the
--             same path as campaign_set_upgrade, so a fresh set equals an upgraded one).
--             Idempotent: for an existing set nothing changes; a set left half-created by a
--             killed run is finished. Concurrent calls for one campaign wait for each other (the
--             set's lock): one creates, the others find the set and change nothing.
-- Parameters: p_campaign_id  campaigns.id
--             p_created      OUT: TRUE when this call created (or finished creating) the set,
--                            FALSE when it already existed
-- Result set: none
-- @setup INSERT INTO companies (id, name) VALUES (1, 'Example company')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--        SELECT 1, 1, 'Example campaign', id, 'active' FROM run_types WHERE code = 'immediate'
-- @example campaign_id=1
-- @returns none
-- Errors:     SQLSTATE 45000 'campaign_set_create: campaign id must be given' /
--             '...: unknown campaign <id>' / '...: campaign <id> is retired' /
--             '...: campaign <id>: its table set is retired' /
--             '...: campaign <id>: another session is changing its table set (waited 60 s)' /
--             '...: must not be called inside an open transaction (its DDL would commit it)';
--             and those of campaign_set_upgrade, which does the work.
DROP PROCEDURE IF EXISTS campaign_set_create;
DELIMITER $$
CREATE PROCEDURE campaign_set_create(IN p_campaign_id BIGINT UNSIGNED, OUT p_created BOOLEAN)
MODIFIES SQL DATA
BEGIN
  DECLARE v_lock VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  SET p_created = FALSE;
  IF p_campaign_id IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'campaign_set_create: campaign id must be given';
  END IF;
  BEGIN
    DECLARE EXIT HANDLER FOR 1568
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'campaign_set_create: must not be called inside an open transaction (its DDL would commit it)';
    SET TRANSACTION READ WRITE;
  END;
  SET v_lock = campaign_set_lock_name(p_campaign_id);
  IF COALESCE(GET_LOCK(v_lock, 60), 0) <> 1 THEN
    SET v_msg = CONCAT('campaign_set_create: campaign ', p_campaign_id, ': another session is changing its table set (waited 60 s)');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;

  BEGIN
    DECLARE v_campaign_state VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL;
    DECLARE v_set_state VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      DO RELEASE_LOCK(v_lock);
      RESIGNAL;
    END;
    SELECT state INTO v_campaign_state FROM campaigns WHERE id = p_campaign_id;
    IF v_campaign_state IS NULL THEN
      SET v_msg = CONCAT('campaign_set_create: unknown campaign ', p_campaign_id);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF v_campaign_state = 'retired' THEN
      SET v_msg = CONCAT('campaign_set_create: campaign ', p_campaign_id, ' is retired');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    SELECT state INTO v_set_state FROM campaign_sets WHERE campaign_id = p_campaign_id;
    IF v_set_state = 'retired' THEN
      SET v_msg = CONCAT('campaign_set_create: campaign ', p_campaign_id, ': its table set is retired');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF v_set_state IS NULL THEN
      INSERT INTO campaign_sets (campaign_id, template_version, state) VALUES (p_campaign_id, 0, 'creating');
    END IF;
    IF v_set_state IS NULL OR v_set_state = 'creating' THEN
      CALL campaign_set_upgrade(p_campaign_id, NULL);
      SET p_created = TRUE;
    END IF;
  END;
  DO RELEASE_LOCK(v_lock);
END$$
DELIMITER ;
