-- Campaign template version (next after the pipeline's): messages get an index on
-- (packet, ready_at), which replaces (packet, id). Index names are per table, so this one has
-- no campaign prefix: pipeline_mark_ready names it in a FORCE INDEX hint.
--
-- Serves: pipeline_mark_ready's four statements by packet (WHERE packet = ? AND ready_at IS NULL):
-- the plan check (reminderly-db plans) found MariaDB scanning the whole messages table with
-- locking reads when a packet held 10% of the rows; with ready_at in the index the range holds
-- only the packet's unready messages. Also serves campaign_summary's count of loaded, not yet
-- ready messages per packet.

INSERT INTO campaign_template_versions (version, description)
SELECT MAX(version) + 1, 'messages: index (packet, ready_at) for mark ready'
  FROM campaign_template_versions
 WHERE NOT EXISTS (SELECT 1 FROM campaign_template_versions WHERE description = 'messages: index (packet, ready_at) for mark ready');

INSERT INTO campaign_template_steps (version, step, table_kind, ddl, probe)
SELECT v.version, 1, 'messages',
       'ALTER TABLE {table} ADD KEY ix_messages_packet_ready (packet, ready_at), DROP KEY ix_{prefix}messages_packet',
       'SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ''{table}'' AND INDEX_NAME = ''ix_messages_packet_ready'''
  FROM campaign_template_versions v
 WHERE v.description = 'messages: index (packet, ready_at) for mark ready'
ON DUPLICATE KEY UPDATE ddl = VALUES(ddl), probe = VALUES(probe);
