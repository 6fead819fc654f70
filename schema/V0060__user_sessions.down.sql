DROP TABLE IF EXISTS user_sessions;
