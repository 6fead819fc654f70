-- End-user sessions: the context the tenant-facing routines act for (procedures/session_*.sql).
-- The auth service, after it has authenticated an end user, records a session here with
-- session_issue (its own database account, the only one granted it); the application passes the
-- session's token to every routine that acts for that user, which looks the user up here. The
-- application account has no privilege on this table (nor on any other), so it cannot list,
-- forge or extend a session: only a token it was handed can act, and only for its own user.
-- Only a SHA-256 of the token is stored (as hexadecimal text, binary collation: EXPLAIN output
-- and logs stay printable): a copy of this table (a dump, a replica) gives no token.

CREATE TABLE IF NOT EXISTS user_sessions (
  token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  issued_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  revoked_at DATETIME(3) NULL,
  PRIMARY KEY (token_hash),
  KEY ix_user_sessions_user (user_id),
  -- session_issue removes expired sessions by this index, a few at a time
  KEY ix_user_sessions_expires (expires_at),
  CONSTRAINT fk_user_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
