-- campaign_template_render: fills a template step's placeholders for one campaign (internal).
--
-- Purpose:    turns template DDL or a probe into SQL for one set: {table} becomes p_table (the
--             step's own table, which the caller names), {<kind>} that kind's table (from
--             campaign_table_name), {campaign_id} and {company_id} the numbers, {prefix}
--             c<campaign id>_ (constraint names are per database, so they carry the campaign id).
--             Only integers and listed kinds go in: never a campaign's name or other user text.
-- Parameters: p_text         the template text
--             p_campaign_id  campaigns.id
--             p_company_id   the campaign's company
--             p_table        the step's own table name
-- Returns:    the SQL text
-- Errors:     none of its own (campaign_table_name signals on a bad id)
-- @internal
DROP FUNCTION IF EXISTS campaign_template_render;
DELIMITER $$
CREATE FUNCTION campaign_template_render(
  p_text TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  p_campaign_id BIGINT UNSIGNED,
  p_company_id BIGINT UNSIGNED,
  p_table VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)
RETURNS TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci
DETERMINISTIC
READS SQL DATA
BEGIN
  DECLARE v_sql TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT p_text;
  DECLARE v_kind VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci DEFAULT '';
  SET v_sql = REPLACE(v_sql, '{table}', p_table);
  -- The ids as numbers, not CAST(... AS CHAR): that string would carry the collation of the
  -- session that created this function, and mixing it with v_sql's is an error.
  SET v_sql = REPLACE(v_sql, '{campaign_id}', p_campaign_id);
  SET v_sql = REPLACE(v_sql, '{company_id}', p_company_id);
  SET v_sql = REPLACE(v_sql, '{prefix}', CONCAT('c', p_campaign_id, '_'));
  kinds: LOOP
    SET v_kind = (SELECT MIN(kind) FROM campaign_table_kinds WHERE kind > v_kind);
    IF v_kind IS NULL THEN
      LEAVE kinds;
    END IF;
    SET v_sql = REPLACE(v_sql, CONCAT('{', v_kind, '}'), campaign_table_name(p_campaign_id, v_kind));
  END LOOP;
  RETURN v_sql;
END$$
DELIMITER ;
