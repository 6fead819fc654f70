-- session_issue: records an authenticated end user's session; its token then acts for that user.
--
-- @setup INSERT INTO companies (id, name) VALUES (1, 'example')
-- @setup INSERT INTO users (id, company_id, role_id, email)
--          SELECT 1, 1, id, 'admin@example.com' FROM roles WHERE name = 'administrator'
-- @example user_id=1 session_token=REPEAT('5a', 32) ttl_seconds=3600
-- @returns session: user_id BIGINT UNSIGNED, expires_at DATETIME(3)
-- @grant auth
--
-- Purpose:    called by the auth service (the auth database account, the only one granted it)
--             once it has authenticated the end user by its own means (password, single sign-on):
--             from then until it expires or is revoked, the token lets the application act for
--             that user in the session_* routines, within the companies the user's role may see
--             (assert_company_access). The application account may not call it, so it cannot make
--             itself a context for a user it names. Removes sessions that expired more than a day
--             ago, so the table holds only live ones.
-- Parameters: p_user_id        users.id of the authenticated user
--             p_session_token  64 hexadecimal digits: 32 bytes from a cryptographic generator
--                              (crypto.randomBytes(32).toString('hex')); only its SHA-256 is kept
--             p_ttl_seconds    1 to 86400: how long the session lasts
-- Result set: one row: user_id, expires_at (UTC)
-- Errors:     SQLSTATE 45000 'session_issue: session token must be 64 hexadecimal digits',
--             'session_issue: ttl_seconds must be between 1 and 86400, got N',
--             'session_issue: user_id N does not exist', 'session_issue: this token is already in use'.
DROP PROCEDURE IF EXISTS session_issue;
DELIMITER $$
CREATE PROCEDURE session_issue(IN p_user_id BIGINT UNSIGNED, IN p_session_token VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, IN p_ttl_seconds INT)
    MODIFIES SQL DATA
BEGIN
  DECLARE v_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin;
  DECLARE v_now DATETIME(3);
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE EXIT HANDLER FOR 1062
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'session_issue: this token is already in use';
  SET v_hash = session_token_hash(p_session_token);
  IF v_hash IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'session_issue: session token must be 64 hexadecimal digits';
  END IF;
  IF p_ttl_seconds IS NULL OR p_ttl_seconds < 1 OR p_ttl_seconds > 86400 THEN
    SET v_msg = CONCAT('session_issue: ttl_seconds must be between 1 and 86400, got ', COALESCE(p_ttl_seconds, 'NULL'));
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF p_user_id IS NULL OR NOT EXISTS (SELECT 1 FROM users WHERE id = p_user_id) THEN
    SET v_msg = CONCAT('session_issue: user_id ', COALESCE(p_user_id, 'NULL'), ' does not exist');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SET v_now = UTC_TIMESTAMP(3);
  DELETE FROM user_sessions WHERE expires_at < v_now - INTERVAL 1 DAY;
  INSERT INTO user_sessions (token_hash, user_id, issued_at, expires_at)
    VALUES (v_hash, p_user_id, v_now, v_now + INTERVAL p_ttl_seconds SECOND);
  SELECT p_user_id AS user_id, v_now + INTERVAL p_ttl_seconds SECOND AS expires_at;
END$$
DELIMITER ;
