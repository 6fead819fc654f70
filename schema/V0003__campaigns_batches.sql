-- Run types, campaigns and the batches workers claim. A campaign's template version lives with
-- its table set (campaign_sets), not here: one fact, one place. The retry policy of the run types
-- (max_attempts, retry_backoff_seconds) and the batches' retry/released counts belong to the
-- pipeline and are added by schema/V0040__pipeline_ready_queue_template.sql.

CREATE TABLE IF NOT EXISTS run_types (
  id TINYINT UNSIGNED NOT NULL,
  code VARCHAR(32) NOT NULL,
  description VARCHAR(200) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_run_types_code (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS campaigns (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  company_id BIGINT UNSIGNED NOT NULL,
  name VARCHAR(200) NOT NULL,
  run_type_id TINYINT UNSIGNED NOT NULL,
  state ENUM('draft', 'active', 'paused', 'finished', 'retired') NOT NULL DEFAULT 'draft',
  starts_at DATETIME(3) NULL,
  ends_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_campaigns_company_name (company_id, name),
  -- Referenced by every campaign set's messages, so a set's rows belong to the campaign's company.
  UNIQUE KEY uq_campaigns_id_company (id, company_id),
  KEY ix_campaigns_run_type (run_type_id),
  CONSTRAINT fk_campaigns_company FOREIGN KEY (company_id) REFERENCES companies (id),
  CONSTRAINT fk_campaigns_run_type FOREIGN KEY (run_type_id) REFERENCES run_types (id),
  CONSTRAINT ck_campaigns_name CHECK (name <> ''),
  CONSTRAINT ck_campaigns_schedule CHECK (starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS batches (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  campaign_id BIGINT UNSIGNED NOT NULL,
  run_type_id TINYINT UNSIGNED NOT NULL,
  worker VARCHAR(64) NOT NULL,
  claimed_at DATETIME(3) NOT NULL,
  lease_until DATETIME(3) NOT NULL,
  completed_at DATETIME(3) NULL,
  message_count INT UNSIGNED NOT NULL DEFAULT 0,
  sent_count INT UNSIGNED NOT NULL DEFAULT 0,
  failed_count INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  -- Serves campaign_summary's open/expired batch counts and the health metrics.
  KEY ix_batches_campaign (campaign_id, completed_at, lease_until),
  KEY ix_batches_run_type (run_type_id),
  CONSTRAINT fk_batches_campaign FOREIGN KEY (campaign_id) REFERENCES campaigns (id),
  CONSTRAINT fk_batches_run_type FOREIGN KEY (run_type_id) REFERENCES run_types (id),
  CONSTRAINT ck_batches_worker CHECK (worker <> ''),
  CONSTRAINT ck_batches_lease CHECK (lease_until > claimed_at),
  CONSTRAINT ck_batches_completed CHECK (completed_at IS NULL OR completed_at >= claimed_at),
  CONSTRAINT ck_batches_counts CHECK (sent_count + failed_count <= message_count)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
