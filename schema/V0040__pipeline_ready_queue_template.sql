-- The message pipeline's additions to the data model (issue 4).
--
-- 1. Batches count retries and released messages; retry policy on the run types: a failed message is retried while its attempts are below the
--    'retry' run type's max_attempts, after retry_backoff_seconds * 2^(attempts - 1).
-- 2. A campaign template version adding the per-campaign ready queue (table kind 'ready_queue')
--    and the indexes mark-ready needs on messages. The queue is what claim_batch reads; see the
--    header of procedures/claim_batch.sql for why it exists and why its primary key is its order.
--
-- The template version is the next one after those already defined, so this file does not need
-- to know how many versions the data model has.

ALTER TABLE run_types
  ADD COLUMN max_attempts SMALLINT UNSIGNED NOT NULL DEFAULT 3,
  ADD COLUMN retry_backoff_seconds INT UNSIGNED NOT NULL DEFAULT 300,
  ADD CONSTRAINT ck_run_types_max_attempts CHECK (max_attempts BETWEEN 1 AND 100);

-- Outcome counts a completed batch records besides sent/failed.
ALTER TABLE batches
  ADD COLUMN retry_count INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'failures scheduled for a retry',
  ADD COLUMN released_count INT UNSIGNED NOT NULL DEFAULT 0 COMMENT 'handed back untried';

INSERT INTO campaign_table_kinds (kind) VALUES ('ready_queue');

INSERT INTO campaign_template_versions (version, description)
SELECT COALESCE(MAX(version), 0) + 1, 'pipeline: ready queue, mark-ready indexes on messages'
  FROM campaign_template_versions;

-- Steps of that version. {table} is the step's own table, {messages} the set's messages table.
-- The queue's primary key is the claim order (run type, visible at, message): a claim is a range
-- read of the clustered index with no filesort and no secondary index to keep in step.
INSERT INTO campaign_template_steps (version, step, table_kind, ddl, probe)
SELECT v.version, s.step, s.table_kind, s.ddl, s.probe
  FROM (SELECT MAX(version) AS version FROM campaign_template_versions) v
  CROSS JOIN (
    SELECT 1 AS step, 'ready_queue' AS table_kind,
           'CREATE TABLE IF NOT EXISTS {table} (
  run_type_id TINYINT UNSIGNED NOT NULL COMMENT ''lane: immediate, scheduled or retry'',
  visible_at DATETIME(3) NOT NULL COMMENT ''claimable from; a claimed entry moves to its batch lease end'',
  message_id BIGINT UNSIGNED NOT NULL,
  batch_id BIGINT UNSIGNED NULL COMMENT ''the batch holding the entry, NULL when nobody does'',
  attempts SMALLINT UNSIGNED NOT NULL DEFAULT 0 COMMENT ''failed tries so far'',
  PRIMARY KEY (run_type_id, visible_at, message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci' AS ddl,
           'SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ''{table}''' AS probe
    UNION ALL
    SELECT 2, 'messages',
           'ALTER TABLE {table} ADD KEY ix_{prefix}messages_packet (packet, id), ADD KEY ix_{prefix}messages_send_after (send_after)',
           'SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ''{table}'' AND INDEX_NAME = ''ix_{prefix}messages_packet'''
  ) s;
