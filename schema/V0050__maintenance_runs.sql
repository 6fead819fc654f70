-- One row per maintenance step run (history, rotate-logs, offload, and the whole `maintenance run`),
-- so that `reminderly-db health` can alarm on a failed or missing run without reading cron mail.
-- A step inserts its row with ok NULL when it starts and sets ok/finished_at when it ends: a row
-- left with ok NULL is a run that was killed or is still going.

CREATE TABLE IF NOT EXISTS maintenance_runs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  step VARCHAR(32) NOT NULL,
  started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  finished_at DATETIME(3) NULL,
  ok TINYINT(1) NULL,
  detail TEXT NULL,
  PRIMARY KEY (id),
  -- health: the latest run of each step (ORDER BY started_at DESC LIMIT 1 per step)
  KEY ix_maintenance_runs_step_started (step, started_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
