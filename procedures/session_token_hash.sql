-- session_token_hash: what user_sessions stores for a session token.
--
-- @internal
--
-- Purpose:    a token is 64 hexadecimal digits (32 random bytes, made by the auth service with a
--             cryptographic generator); only the SHA-256 of its bytes is stored, so a copy of
--             user_sessions gives no usable token. Hashing the bytes, not the text, makes the
--             comparison exact (ascii_bin, whatever the database's collation) and 'AB..' the same token as 'ab..'.
-- Parameters: p_session_token  the token as given
-- Returns:    the SHA-256 as 64 lowercase hexadecimal digits (ascii_bin), or NULL when the token is
--             not 64 hexadecimal digits.
DROP FUNCTION IF EXISTS session_token_hash;
DELIMITER $$
CREATE FUNCTION session_token_hash(p_session_token VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci) RETURNS CHAR(64) CHARACTER SET ascii COLLATE ascii_bin
    DETERMINISTIC NO SQL
BEGIN
  -- Checked by pattern, not by UNHEX: MySQL's strict mode makes UNHEX of a non-hex string an error.
  IF p_session_token IS NULL OR NOT (p_session_token REGEXP '^[0-9A-Fa-f]{64}$') THEN
    RETURN NULL;
  END IF;
  RETURN SHA2(UNHEX(p_session_token), 256);
END$$
DELIMITER ;
