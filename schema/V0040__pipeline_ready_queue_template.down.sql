-- Reverts V0040. Refuses (by the foreign keys of campaign_sets) nothing: sets already at this
-- template version keep their ready_queue tables, which must be dropped by the campaign tooling.
DELETE FROM campaign_template_steps WHERE version = (SELECT version FROM (SELECT MAX(version) AS version FROM campaign_template_versions) v);
DELETE FROM campaign_template_versions WHERE version = (SELECT version FROM (SELECT MAX(version) AS version FROM campaign_template_versions) v);
DELETE FROM campaign_table_kinds WHERE kind = 'ready_queue';
ALTER TABLE run_types DROP CONSTRAINT ck_run_types_max_attempts, DROP COLUMN retry_backoff_seconds, DROP COLUMN max_attempts;
ALTER TABLE batches DROP COLUMN released_count, DROP COLUMN retry_count;
