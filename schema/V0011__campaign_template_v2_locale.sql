-- Campaign template v2: messages carry the contact's locale, so a worker renders the message in
-- the contact's language; the history twin gets the same column. Existing sets are upgraded by
-- `migrate up` (campaign_set_upgrade), new ones are created with it. ALTER steps carry a probe
-- (the column is there), so a set killed between the ALTER and its bookkeeping is not altered
-- twice. Both inserts can re-run.

INSERT INTO campaign_template_versions (version, description) VALUES (2, 'messages: locale')
ON DUPLICATE KEY UPDATE description = VALUES(description);

INSERT INTO campaign_template_steps (version, step, table_kind, ddl, probe) VALUES
(2, 1, 'messages', 'ALTER TABLE {table} ADD COLUMN locale VARCHAR(16) NULL AFTER body',
 'SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ''{table}'' AND COLUMN_NAME = ''locale'''),
(2, 2, 'messages_history', 'ALTER TABLE {table} ADD COLUMN locale VARCHAR(16) NULL AFTER body',
 'SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ''{table}'' AND COLUMN_NAME = ''locale''')
ON DUPLICATE KEY UPDATE table_kind = VALUES(table_kind), ddl = VALUES(ddl), probe = VALUES(probe);
