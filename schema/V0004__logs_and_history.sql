-- Insert-only logging tables and the history of batches. Log tables are named log_* and carry
-- logged_at: maintenance rotates them by RENAME TABLE and offloads the rotated copies
-- (tools/maintenance/log-tables.ts relies on both). No foreign keys: logs must accept every
-- insert fast and outlive what they mention.

CREATE TABLE IF NOT EXISTS log_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  logged_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  level ENUM('debug', 'info', 'warn', 'error') NOT NULL,
  source VARCHAR(64) NOT NULL,
  campaign_id BIGINT UNSIGNED NULL,
  message VARCHAR(1000) NOT NULL,
  detail JSON NULL,
  PRIMARY KEY (id),
  KEY ix_log_events_logged_at (logged_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS log_batches (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  logged_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  batch_id BIGINT UNSIGNED NOT NULL,
  campaign_id BIGINT UNSIGNED NOT NULL,
  event ENUM('claimed', 'completed', 'refused') NOT NULL,
  worker VARCHAR(64) NULL,
  message_count INT UNSIGNED NOT NULL DEFAULT 0,
  detail JSON NULL,
  PRIMARY KEY (id),
  KEY ix_log_batches_logged_at (logged_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS batches_history (
  id BIGINT UNSIGNED NOT NULL,
  campaign_id BIGINT UNSIGNED NOT NULL,
  run_type_id TINYINT UNSIGNED NOT NULL,
  worker VARCHAR(64) NOT NULL,
  claimed_at DATETIME(3) NOT NULL,
  lease_until DATETIME(3) NOT NULL,
  completed_at DATETIME(3) NULL,
  message_count INT UNSIGNED NOT NULL,
  sent_count INT UNSIGNED NOT NULL,
  failed_count INT UNSIGNED NOT NULL,
  moved_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_batches_history_campaign (campaign_id, completed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
