-- assert_company_access: may this user work on this company's data?
--
-- @setup INSERT INTO companies (id, name) VALUES (1, 'example')
-- @setup INSERT INTO users (id, company_id, role_id, email)
--          SELECT 1, 1, id, 'admin@example.com' FROM roles WHERE name = 'administrator'
-- @example user_id=1 company_id=1
-- @returns none
--
-- Purpose:    the access check of every pipeline routine that takes a user id. A user's role lists
--             the companies it may see (role_companies); a global role sees every company. The
--             user's own company is not implied: only the allow-list counts.
-- Parameters: p_user_id     users.id of the caller
--             p_company_id  companies.id of the data asked for
-- Result:     none; returns normally when access is allowed.
-- Errors:     SQLSTATE 45000 'access denied: user_id N does not exist'
--             SQLSTATE 45000 'access denied: user N may not see company M'
--             SQLSTATE 45000 'assert_company_access: user_id/company_id must be given'
DROP PROCEDURE IF EXISTS assert_company_access;
DELIMITER $$
CREATE PROCEDURE assert_company_access(IN p_user_id BIGINT UNSIGNED, IN p_company_id BIGINT UNSIGNED)
    READS SQL DATA
BEGIN
  DECLARE v_role_id BIGINT UNSIGNED;
  DECLARE v_global TINYINT DEFAULT 0;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  IF p_user_id IS NULL OR p_company_id IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'assert_company_access: user_id and company_id must be given';
  END IF;
  SELECT u.role_id, r.is_global INTO v_role_id, v_global
    FROM users u JOIN roles r ON r.id = u.role_id
   WHERE u.id = p_user_id;
  IF v_role_id IS NULL THEN
    SET v_msg = LEFT(CONCAT('access denied: user_id ', p_user_id, ' does not exist'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_global = 0 AND NOT EXISTS (SELECT 1 FROM role_companies WHERE role_id = v_role_id AND company_id = p_company_id) THEN
    SET v_msg = LEFT(CONCAT('access denied: user ', p_user_id, ' may not see company ', p_company_id), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END$$
DELIMITER ;
