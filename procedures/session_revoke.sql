-- session_revoke: ends a session (logout): its token acts for nobody any more.
--
-- @setup INSERT INTO companies (id, name) VALUES (1, 'example')
-- @setup INSERT INTO users (id, company_id, role_id, email)
--          SELECT 1, 1, id, 'admin@example.com' FROM roles WHERE name = 'administrator'
-- @setup CALL session_issue(1, REPEAT('5a', 32), 3600)
-- @example session_token=REPEAT('5a', 32)
-- @returns revoked: revoked BIGINT
-- @grant auth, application
--
-- Purpose:    the auth service revokes a session it issued; the application may end a session
--             whose token it was handed (a user logging out). Revoking only takes rights away,
--             so holding the token is enough. Revoking twice revokes nothing the second time.
-- Parameters: p_session_token  the session's token (64 hexadecimal digits)
-- Result set: one row: revoked (1 when a live session was revoked, else 0)
-- Errors:     SQLSTATE 45000 'session_revoke: session token must be 64 hexadecimal digits'.
DROP PROCEDURE IF EXISTS session_revoke;
DELIMITER $$
CREATE PROCEDURE session_revoke(IN p_session_token VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)
    MODIFIES SQL DATA
BEGIN
  DECLARE v_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin;
  SET v_hash = session_token_hash(p_session_token);
  IF v_hash IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'session_revoke: session token must be 64 hexadecimal digits';
  END IF;
  UPDATE user_sessions SET revoked_at = UTC_TIMESTAMP(3) WHERE token_hash = v_hash COLLATE ascii_bin AND revoked_at IS NULL;
  SELECT CAST(ROW_COUNT() AS SIGNED) AS revoked;
END$$
DELIMITER ;
