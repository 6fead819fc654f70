-- campaign_table_name: the physical name of one table of a campaign's table set.
--
-- Purpose:    THE one place the naming pattern lives (campaign_<id>_<kind>, e.g.
--             campaign_42_messages). Every routine and the TypeScript toolkit ask this function;
--             names are built only from the integer id and a kind listed in campaign_table_kinds,
--             never from a user-supplied string. The kind must match a listed one exactly (not
--             'Messages', not 'messages '): the name is built from the listed kind.
-- Parameters: p_campaign_id  campaigns.id (the set need not exist: creation uses it too)
--             p_kind         a kind from campaign_table_kinds, e.g. 'messages'
-- Returns:    the table name, VARCHAR(64)
-- Errors:     SQLSTATE 45000 'campaign_table_name: campaign id must be a positive number' /
--             'campaign_table_name: unknown table kind "<kind>"'
DROP FUNCTION IF EXISTS campaign_table_name;
DELIMITER $$
CREATE FUNCTION campaign_table_name(p_campaign_id BIGINT UNSIGNED, p_kind VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)
RETURNS VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci
DETERMINISTIC
READS SQL DATA
BEGIN
  DECLARE v_kind VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT NULL;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  IF p_campaign_id IS NULL OR p_campaign_id = 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'campaign_table_name: campaign id must be a positive number';
  END IF;
  SELECT kind INTO v_kind FROM campaign_table_kinds WHERE kind = p_kind;
  -- The column's collation ignores case and trailing blanks; the name must not.
  IF v_kind IS NULL OR CAST(v_kind AS BINARY) <> CAST(p_kind AS BINARY) THEN
    SET v_msg = LEFT(CONCAT('campaign_table_name: unknown table kind "', COALESCE(p_kind, 'NULL'), '"'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  RETURN CONCAT('campaign_', p_campaign_id, '_', v_kind);
END$$
DELIMITER ;
