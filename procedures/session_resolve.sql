-- session_resolve: the end user a session token acts for, or access denied.
--
-- @internal
--
-- Purpose:    the check every tenant-facing routine (session_*) makes before anything else: the
--             token must name a session in user_sessions that session_issue recorded, not
--             revoked, not expired (UTC). Nothing about the campaign asked for is read before it
--             passes, so a bad token learns nothing. Reads only: works on a replica too (a session
--             issued less than the replica's lag ago is not there yet).
-- Parameters: p_routine        the caller's name, for messages
--             p_session_token  the token the auth service issued (64 hexadecimal digits)
--             p_user_id        OUT: users.id of the session
-- Result:     none.
-- Errors:     SQLSTATE 45000 '<routine>: session token must be 64 hexadecimal digits'
--             SQLSTATE 45000 '<routine>: access denied: no valid session for this token (unknown, expired or revoked)'
--             The token is never part of a message.
DROP PROCEDURE IF EXISTS session_resolve;
DELIMITER $$
CREATE PROCEDURE session_resolve(IN p_routine VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, IN p_session_token VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, OUT p_user_id BIGINT UNSIGNED)
    READS SQL DATA
BEGIN
  DECLARE v_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin;
  DECLARE v_user_id BIGINT UNSIGNED;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  SET p_user_id = NULL;
  SET v_hash = session_token_hash(p_session_token);
  IF v_hash IS NULL THEN
    SET v_msg = CONCAT(p_routine, ': session token must be 64 hexadecimal digits');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT s.user_id INTO v_user_id FROM user_sessions s
   WHERE s.token_hash = v_hash COLLATE ascii_bin AND s.revoked_at IS NULL AND s.expires_at > UTC_TIMESTAMP(3);
  IF v_user_id IS NULL THEN
    SET v_msg = CONCAT(p_routine, ': access denied: no valid session for this token (unknown, expired or revoked)');
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SET p_user_id = v_user_id;
END$$
DELIMITER ;
