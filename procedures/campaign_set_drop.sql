-- campaign_set_drop: drops a campaign's table set and marks it (and the campaign) retired.
--
-- Purpose:    the last step of `campaign retire`, which calls it only after a verified dump of
--             every table of the set. Drops are idempotent (IF EXISTS), so a killed retire is
--             finished by calling it again.
-- Parameters: p_campaign_id  campaigns.id
-- Result set: none
-- Errors:     SQLSTATE 45000 'campaign_set_drop: campaign <id> has no table set'
DROP PROCEDURE IF EXISTS campaign_set_drop;
DELIMITER $$
CREATE PROCEDURE campaign_set_drop(IN p_campaign_id BIGINT UNSIGNED)
MODIFIES SQL DATA
BEGIN
  DECLARE v_kind VARCHAR(32) DEFAULT '';
  DECLARE v_fk INT DEFAULT @@foreign_key_checks;
  DECLARE v_msg VARCHAR(128);
  IF NOT EXISTS (SELECT 1 FROM campaign_sets WHERE campaign_id = p_campaign_id) THEN
    SET v_msg = CONCAT('campaign_set_drop: campaign ', COALESCE(p_campaign_id, 'NULL'), ' has no table set');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  -- The set's tables reference each other; they all go, so the order does not matter.
  SET foreign_key_checks = 0;
  kinds: LOOP
    SET v_kind = (SELECT MIN(kind) FROM campaign_table_kinds WHERE kind > v_kind);
    IF v_kind IS NULL THEN
      LEAVE kinds;
    END IF;
    SET @reminderly_sql = CONCAT('DROP TABLE IF EXISTS `', campaign_table_name(p_campaign_id, v_kind), '`');
    PREPARE drop_stmt FROM @reminderly_sql;
    EXECUTE drop_stmt;
    DEALLOCATE PREPARE drop_stmt;
  END LOOP;
  SET foreign_key_checks = v_fk;
  UPDATE campaign_sets SET state = 'retired', retired_at = CURRENT_TIMESTAMP(3) WHERE campaign_id = p_campaign_id;
  UPDATE campaigns SET state = 'retired' WHERE id = p_campaign_id;
END$$
DELIMITER ;
