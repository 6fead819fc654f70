-- campaign_table: translates a campaign id and a table kind into the physical table, for reporting.
--
-- Purpose:    reporting tools ask which table holds a campaign's messages, status updates, ...
-- Parameters: p_campaign_id  campaigns.id
--             p_kind         a kind from campaign_table_kinds, e.g. 'status_updates'
-- Result set: one row: campaign_id, kind, table_name, template_version
-- Errors:     SQLSTATE 45000 'campaign_table: unknown campaign <id>' /
--             'campaign_table: campaign <id> has no table set' /
--             'campaign_table: campaign <id>: its table set is retired' /
--             'campaign_table_name: unknown table kind "<kind>"'
DROP PROCEDURE IF EXISTS campaign_table;
DELIMITER $$
CREATE PROCEDURE campaign_table(IN p_campaign_id BIGINT UNSIGNED, IN p_kind VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)
READS SQL DATA
BEGIN
  DECLARE v_state VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_version SMALLINT UNSIGNED;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  IF NOT EXISTS (SELECT 1 FROM campaigns WHERE id = p_campaign_id) THEN
    SET v_msg = CONCAT('campaign_table: unknown campaign ', COALESCE(p_campaign_id, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT state, template_version INTO v_state, v_version FROM campaign_sets WHERE campaign_id = p_campaign_id;
  IF v_state IS NULL THEN
    SET v_msg = CONCAT('campaign_table: campaign ', p_campaign_id, ' has no table set');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_state = 'retired' THEN
    SET v_msg = CONCAT('campaign_table: campaign ', p_campaign_id, ': its table set is retired');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT p_campaign_id AS campaign_id, p_kind AS kind, campaign_table_name(p_campaign_id, p_kind) AS table_name,
         v_version AS template_version;
END$$
DELIMITER ;
