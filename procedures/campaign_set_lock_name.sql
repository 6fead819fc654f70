-- campaign_set_lock_name: the name of the server lock that serialises changes to one campaign set.
--
-- Purpose:    campaign_set_create, campaign_set_upgrade and campaign_set_drop hold this lock
--             (GET_LOCK) while they change a set, so two sessions never build or drop the same
--             set at once, whoever calls them (the CLI under the schema lock, or the app). GET_LOCK
--             is server-wide, so the name includes the database; it is hashed to stay within the
--             64 characters GET_LOCK allows.
-- Parameters: p_campaign_id  campaigns.id
-- Returns:    'reminderly_db.set.' followed by 40 hex digits (of SHA-256)
-- Errors:     none (a NULL id gives NULL)
-- @internal
DROP FUNCTION IF EXISTS campaign_set_lock_name;
DELIMITER $$
CREATE FUNCTION campaign_set_lock_name(p_campaign_id BIGINT UNSIGNED)
RETURNS VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci
DETERMINISTIC
NO SQL
BEGIN
  -- SHA2, not SHA1/MD5: MySQL 9 builds may lack those.
  RETURN CONCAT('reminderly_db.set.', LEFT(SHA2(CONCAT(DATABASE(), '/', p_campaign_id), 256), 40));
END$$
DELIMITER ;
