-- campaign_set_create: creates a campaign's table set at the newest template version.
--
-- Purpose:    registers the set and runs every step of every template version in order (the
--             same path as campaign_set_upgrade, so a fresh set equals an upgraded one).
--             Idempotent: for an existing set nothing changes; a set left half-created by a
--             killed run is finished.
-- Parameters: p_campaign_id  campaigns.id
--             p_created      OUT: TRUE when this call created (or finished creating) the set,
--                            FALSE when it already existed
-- Result set: none
-- Errors:     SQLSTATE 45000 'campaign_set_create: unknown campaign <id>' /
--             '...: campaign <id> is retired' / '...: campaign <id>: its table set is retired'
DROP PROCEDURE IF EXISTS campaign_set_create;
DELIMITER $$
CREATE PROCEDURE campaign_set_create(IN p_campaign_id BIGINT UNSIGNED, OUT p_created BOOLEAN)
MODIFIES SQL DATA
BEGIN
  DECLARE v_campaign_state VARCHAR(16);
  DECLARE v_set_state VARCHAR(16);
  DECLARE v_msg VARCHAR(128);
  SET p_created = FALSE;
  SELECT state INTO v_campaign_state FROM campaigns WHERE id = p_campaign_id;
  IF v_campaign_state IS NULL THEN
    SET v_msg = CONCAT('campaign_set_create: unknown campaign ', COALESCE(p_campaign_id, 'NULL'));
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
END$$
DELIMITER ;
