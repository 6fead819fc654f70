-- campaign_set_upgrade: brings one campaign's table set to a template version.
--
-- Purpose:    applies, version by version, every template step the set does not have yet. After
--             each version it records the set's version and one campaign_set_upgrades row in one
--             transaction. Resumable after a kill at any point: steps recorded in
--             campaign_set_steps are skipped, and a step whose probe finds its effect already
--             present (DDL done, bookkeeping not) is recorded without running again. The set's
--             lock (campaign_set_lock_name) keeps two sessions from changing the set at once.
-- Parameters: p_campaign_id  campaigns.id of a set that exists and is not retired
--             p_to_version   target template version; NULL = the newest
-- Result set: none
-- @setup INSERT INTO companies (id, name) VALUES (1, 'Example company')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--        SELECT 1, 1, 'Example campaign', id, 'active' FROM run_types WHERE code = 'immediate'
-- @setup INSERT INTO campaign_sets (campaign_id, template_version, state) VALUES (1, 0, 'creating')
-- @example campaign_id=1 to_version=1
-- @returns none
-- Errors:     SQLSTATE 45000 'campaign_set_upgrade: campaign id must be given' /
--             '...: unknown campaign <id>' / '...: campaign <id> has no table set' /
--             '...: campaign <id>: its table set is retired' /
--             '...: campaign <id>: its table set is being retired (finish it, or campaign retire --cancel)' /
--             '...: template version <v> does not exist' /
--             '...: campaign <id> is at v<a>, cannot go back to v<b>' /
--             '...: campaign <id>: another session is changing its table set (waited 60 s)' /
--             '...: must not be called inside an open transaction (its DDL would commit it)'.
--             A failing step's own error (e.g. a DDL error) is passed on unchanged; the set stays
--             'upgrading' (or 'creating') and a later call resumes it.
DROP PROCEDURE IF EXISTS campaign_set_upgrade;
DELIMITER $$
CREATE PROCEDURE campaign_set_upgrade(IN p_campaign_id BIGINT UNSIGNED, IN p_to_version SMALLINT UNSIGNED)
MODIFIES SQL DATA
BEGIN
  DECLARE v_lock VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  IF p_campaign_id IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'campaign_set_upgrade: campaign id must be given';
  END IF;
  BEGIN
    DECLARE EXIT HANDLER FOR 1568
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'campaign_set_upgrade: must not be called inside an open transaction (its DDL would commit it)';
    SET TRANSACTION READ WRITE;
  END;
  SET v_lock = campaign_set_lock_name(p_campaign_id);
  IF COALESCE(GET_LOCK(v_lock, 60), 0) <> 1 THEN
    SET v_msg = CONCAT('campaign_set_upgrade: campaign ', p_campaign_id, ': another session is changing its table set (waited 60 s)');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;

  BEGIN
    DECLARE v_state VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL;
    DECLARE v_current SMALLINT UNSIGNED;
    DECLARE v_target SMALLINT UNSIGNED;
    DECLARE v_company_id BIGINT UNSIGNED DEFAULT NULL;
    DECLARE v_version SMALLINT UNSIGNED;
    DECLARE v_step SMALLINT UNSIGNED;
    DECLARE v_kind VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    DECLARE v_ddl TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    DECLARE v_probe TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    DECLARE v_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      ROLLBACK;
      DO RELEASE_LOCK(v_lock);
      RESIGNAL;
    END;

    SELECT company_id INTO v_company_id FROM campaigns WHERE id = p_campaign_id;
    IF v_company_id IS NULL THEN
      SET v_msg = CONCAT('campaign_set_upgrade: unknown campaign ', p_campaign_id);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    SELECT state, template_version INTO v_state, v_current FROM campaign_sets WHERE campaign_id = p_campaign_id;
    IF v_state IS NULL THEN
      SET v_msg = CONCAT('campaign_set_upgrade: campaign ', p_campaign_id, ' has no table set');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF v_state = 'retired' THEN
      SET v_msg = CONCAT('campaign_set_upgrade: campaign ', p_campaign_id, ': its table set is retired');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    -- Its tables must stay what retire checksummed; `campaign retire N --cancel` returns it first.
    IF v_state = 'retiring' THEN
      SET v_msg = CONCAT('campaign_set_upgrade: campaign ', p_campaign_id, ': its table set is being retired (finish it, or campaign retire --cancel)');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    SET v_target = COALESCE(p_to_version, (SELECT MAX(version) FROM campaign_template_versions));
    IF v_target IS NULL OR NOT EXISTS (SELECT 1 FROM campaign_template_versions WHERE version = v_target) THEN
      SET v_msg = CONCAT('campaign_set_upgrade: template version ', COALESCE(v_target, 'NULL'), ' does not exist');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF v_target < v_current THEN
      SET v_msg = CONCAT('campaign_set_upgrade: campaign ', p_campaign_id, ' is at v', v_current, ', cannot go back to v', v_target);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF v_state = 'active' AND v_current < v_target THEN
      UPDATE campaign_sets SET state = 'upgrading' WHERE campaign_id = p_campaign_id;
    END IF;

    SET v_version = v_current + 1;
    WHILE v_version <= v_target DO
      SET v_step = 0;
      steps: LOOP
        SET v_step = (SELECT MIN(step) FROM campaign_template_steps WHERE version = v_version AND step > v_step);
        IF v_step IS NULL THEN
          LEAVE steps;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM campaign_set_steps WHERE campaign_id = p_campaign_id AND version = v_version AND step = v_step) THEN
          SELECT table_kind, ddl, probe INTO v_kind, v_ddl, v_probe
            FROM campaign_template_steps WHERE version = v_version AND step = v_step;
          SET v_table = campaign_table_name(p_campaign_id, v_kind);
          SET @reminderly_probe = 0;
          IF v_probe IS NOT NULL THEN
            SET @reminderly_sql = CONCAT('SELECT (', campaign_template_render(v_probe, p_campaign_id, v_company_id, v_table), ') INTO @reminderly_probe');
            PREPARE reminderly_set_probe FROM @reminderly_sql;
            EXECUTE reminderly_set_probe;
            DEALLOCATE PREPARE reminderly_set_probe;
          END IF;
          IF COALESCE(@reminderly_probe, 0) = 0 THEN
            SET @reminderly_sql = campaign_template_render(v_ddl, p_campaign_id, v_company_id, v_table);
            PREPARE reminderly_set_step FROM @reminderly_sql;
            EXECUTE reminderly_set_step;
            DEALLOCATE PREPARE reminderly_set_step;
          END IF;
          INSERT INTO campaign_set_steps (campaign_id, version, step) VALUES (p_campaign_id, v_version, v_step);
        END IF;
      END LOOP;
      START TRANSACTION;
      UPDATE campaign_sets SET template_version = v_version, upgraded_at = CURRENT_TIMESTAMP(3) WHERE campaign_id = p_campaign_id;
      INSERT INTO campaign_set_upgrades (campaign_id, from_version, to_version) VALUES (p_campaign_id, v_version - 1, v_version);
      COMMIT;
      SET v_version = v_version + 1;
    END WHILE;
    UPDATE campaign_sets SET state = 'active'
     WHERE campaign_id = p_campaign_id AND state IN ('creating', 'upgrading') AND template_version = v_target;
    SET @reminderly_sql = NULL, @reminderly_probe = NULL;
  END;
  DO RELEASE_LOCK(v_lock);
END$$
DELIMITER ;
