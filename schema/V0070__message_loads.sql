-- One row per committed `messages load`: which content went into which campaign, so the loader can
-- recognise a file it has already loaded (a retry after a timeout, a cron rerun) and refuse it
-- instead of doubling the campaign. Content is identified by sha256 and size, not by file name:
-- a renamed copy is the same load, an edited file is a new one. `--again` loads it anyway and
-- records a second row.

CREATE TABLE IF NOT EXISTS message_loads (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  campaign_id BIGINT UNSIGNED NOT NULL,
  file_sha256 CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  file_bytes BIGINT UNSIGNED NOT NULL,
  file_name VARCHAR(255) NOT NULL,
  -- records read from the file, and rows written (fewer when --reject-file set bad ones aside)
  rows_read BIGINT UNSIGNED NOT NULL,
  rows_loaded BIGINT UNSIGNED NOT NULL,
  loaded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  again TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  -- the loader's question: has this content been loaded into this campaign?
  KEY ix_message_loads_campaign_sha (campaign_id, file_sha256)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
