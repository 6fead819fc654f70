-- Campaign table templates, defined once in the database and versioned.
--
-- Every campaign gets its own set of tables (one per kind in campaign_table_kinds), named only
-- from its integer id by campaign_table_name() (procedures/campaign_table_name.sql). A template
-- version is a list of steps; each step is DDL for one table kind, with placeholders that
-- campaign_set_upgrade() replaces:
--   {table}          the step's own table          {<kind>}     any kind's table, e.g. {messages}
--   {campaign_id}    the campaign's id              {company_id} the campaign's company
--   {prefix}         c<campaign id>_, for constraint and index names (unique per database)
-- A step may carry a probe: a SELECT giving a count > 0 when its effect is already there, so a
-- set interrupted between a step's DDL and its bookkeeping is resumed without running it twice.
-- A fresh set runs every step of every version in order: the same path an old set is upgraded
-- by, so a fresh set and an upgraded one are built by the same statements.

CREATE TABLE IF NOT EXISTS campaign_table_kinds (
  kind VARCHAR(32) NOT NULL,
  PRIMARY KEY (kind),
  -- Kinds end up in table names (campaign_<20 digits>_<kind> must fit 64 characters) and in
  -- placeholders ({<kind>}), so: lowercase words, at most 34 characters, not a placeholder's name.
  CONSTRAINT ck_campaign_table_kinds_kind CHECK (kind REGEXP '^[a-z][a-z_]*$' AND CHAR_LENGTH(kind) <= 34
    AND kind NOT IN ('table', 'prefix', 'campaign_id', 'company_id'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS campaign_template_versions (
  version SMALLINT UNSIGNED NOT NULL,
  description VARCHAR(200) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (version),
  CONSTRAINT ck_campaign_template_versions_version CHECK (version >= 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS campaign_template_steps (
  version SMALLINT UNSIGNED NOT NULL,
  step SMALLINT UNSIGNED NOT NULL,
  table_kind VARCHAR(32) NOT NULL,
  ddl TEXT NOT NULL,
  probe TEXT NULL,
  PRIMARY KEY (version, step),
  KEY ix_campaign_template_steps_kind (table_kind),
  CONSTRAINT fk_campaign_template_steps_version FOREIGN KEY (version) REFERENCES campaign_template_versions (version),
  CONSTRAINT fk_campaign_template_steps_kind FOREIGN KEY (table_kind) REFERENCES campaign_table_kinds (kind)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS campaign_sets (
  campaign_id BIGINT UNSIGNED NOT NULL,
  template_version SMALLINT UNSIGNED NOT NULL DEFAULT 0,
  state ENUM('creating', 'active', 'upgrading', 'retired') NOT NULL DEFAULT 'creating',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  upgraded_at DATETIME(3) NULL,
  retired_at DATETIME(3) NULL,
  PRIMARY KEY (campaign_id),
  KEY ix_campaign_sets_version (state, template_version),
  CONSTRAINT fk_campaign_sets_campaign FOREIGN KEY (campaign_id) REFERENCES campaigns (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Which steps each set has: what makes an interrupted create or upgrade resumable. A retired set
-- has no tables, so none (campaign_set_drop deletes its rows; its upgrade history stays).
CREATE TABLE IF NOT EXISTS campaign_set_steps (
  campaign_id BIGINT UNSIGNED NOT NULL,
  version SMALLINT UNSIGNED NOT NULL,
  step SMALLINT UNSIGNED NOT NULL,
  applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (campaign_id, version, step),
  CONSTRAINT fk_campaign_set_steps_set FOREIGN KEY (campaign_id) REFERENCES campaign_sets (campaign_id),
  CONSTRAINT fk_campaign_set_steps_step FOREIGN KEY (version, step) REFERENCES campaign_template_steps (version, step)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per completed version upgrade of a set (the proof that each happened exactly once).
CREATE TABLE IF NOT EXISTS campaign_set_upgrades (
  campaign_id BIGINT UNSIGNED NOT NULL,
  from_version SMALLINT UNSIGNED NOT NULL,
  to_version SMALLINT UNSIGNED NOT NULL,
  upgraded_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (campaign_id, to_version),
  CONSTRAINT fk_campaign_set_upgrades_set FOREIGN KEY (campaign_id) REFERENCES campaign_sets (campaign_id),
  CONSTRAINT ck_campaign_set_upgrades_order CHECK (to_version = from_version + 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The inserts below can re-run (ON DUPLICATE KEY UPDATE to the same values): a killed run resumes.
INSERT INTO campaign_table_kinds (kind) VALUES
  ('messages'), ('message_contact_status'), ('status_updates'), ('interactions'),
  ('messages_history'), ('message_contact_status_history'), ('status_updates_history'), ('interactions_history')
ON DUPLICATE KEY UPDATE kind = VALUES(kind);

INSERT INTO campaign_template_versions (version, description) VALUES
  (1, 'messages, current status per method, status updates, interactions, and their history twins')
ON DUPLICATE KEY UPDATE description = VALUES(description);

INSERT INTO campaign_template_steps (version, step, table_kind, ddl, probe) VALUES
(1, 1, 'messages', 'CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  campaign_id BIGINT UNSIGNED NOT NULL DEFAULT {campaign_id},
  company_id BIGINT UNSIGNED NOT NULL DEFAULT {company_id},
  contact_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  packet INT UNSIGNED NOT NULL DEFAULT 0,
  send_after DATETIME(3) NULL,
  ready_at DATETIME(3) NULL,
  subject VARCHAR(200) NULL,
  body TEXT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_{prefix}messages_contact (company_id, contact_id),
  KEY ix_{prefix}messages_campaign (campaign_id, company_id),
  KEY ix_{prefix}messages_method (method_id),
  CONSTRAINT fk_{prefix}messages_contact FOREIGN KEY (company_id, contact_id) REFERENCES contacts (company_id, id),
  CONSTRAINT fk_{prefix}messages_campaign FOREIGN KEY (campaign_id, company_id) REFERENCES campaigns (id, company_id),
  CONSTRAINT fk_{prefix}messages_method FOREIGN KEY (method_id) REFERENCES contact_methods (id),
  CONSTRAINT ck_{prefix}messages_campaign CHECK (campaign_id = {campaign_id}),
  CONSTRAINT ck_{prefix}messages_company CHECK (company_id = {company_id})
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL),
(1, 2, 'message_contact_status', 'CREATE TABLE IF NOT EXISTS {table} (
  message_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  status_id SMALLINT UNSIGNED NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (message_id, method_id),
  KEY ix_{prefix}mcs_status (status_id),
  KEY ix_{prefix}mcs_method (method_id),
  CONSTRAINT fk_{prefix}mcs_message FOREIGN KEY (message_id) REFERENCES {messages} (id),
  CONSTRAINT fk_{prefix}mcs_method FOREIGN KEY (method_id) REFERENCES contact_methods (id),
  CONSTRAINT fk_{prefix}mcs_status FOREIGN KEY (status_id) REFERENCES contact_statuses (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL),
(1, 3, 'status_updates', 'CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  status_id SMALLINT UNSIGNED NOT NULL,
  provider_ref VARCHAR(200) NULL,
  detail VARCHAR(1000) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_{prefix}su_message (message_id, id),
  KEY ix_{prefix}su_method (method_id),
  KEY ix_{prefix}su_status (status_id),
  CONSTRAINT fk_{prefix}su_message FOREIGN KEY (message_id) REFERENCES {messages} (id),
  CONSTRAINT fk_{prefix}su_method FOREIGN KEY (method_id) REFERENCES contact_methods (id),
  CONSTRAINT fk_{prefix}su_status FOREIGN KEY (status_id) REFERENCES contact_statuses (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL),
(1, 4, 'interactions', 'CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  message_id BIGINT UNSIGNED NOT NULL,
  contact_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  kind VARCHAR(32) NOT NULL,
  detail VARCHAR(1000) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_{prefix}interactions_contact (contact_id, kind),
  KEY ix_{prefix}interactions_message (message_id),
  KEY ix_{prefix}interactions_method (method_id),
  CONSTRAINT fk_{prefix}interactions_message FOREIGN KEY (message_id) REFERENCES {messages} (id),
  CONSTRAINT fk_{prefix}interactions_contact FOREIGN KEY (contact_id) REFERENCES contacts (id),
  CONSTRAINT fk_{prefix}interactions_method FOREIGN KEY (method_id) REFERENCES contact_methods (id),
  CONSTRAINT ck_{prefix}interactions_kind CHECK (kind <> '''')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL),
(1, 5, 'messages_history', 'CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL,
  campaign_id BIGINT UNSIGNED NOT NULL,
  company_id BIGINT UNSIGNED NOT NULL,
  contact_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  packet INT UNSIGNED NOT NULL,
  send_after DATETIME(3) NULL,
  ready_at DATETIME(3) NULL,
  subject VARCHAR(200) NULL,
  body TEXT NULL,
  created_at DATETIME(3) NOT NULL,
  moved_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_{prefix}messages_history_moved (moved_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL),
(1, 6, 'message_contact_status_history', 'CREATE TABLE IF NOT EXISTS {table} (
  message_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  status_id SMALLINT UNSIGNED NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  moved_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (message_id, method_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL),
(1, 7, 'status_updates_history', 'CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL,
  message_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  status_id SMALLINT UNSIGNED NOT NULL,
  provider_ref VARCHAR(200) NULL,
  detail VARCHAR(1000) NULL,
  created_at DATETIME(3) NOT NULL,
  moved_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_{prefix}su_history_message (message_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL),
(1, 8, 'interactions_history', 'CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL,
  message_id BIGINT UNSIGNED NOT NULL,
  contact_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  kind VARCHAR(32) NOT NULL,
  detail VARCHAR(1000) NULL,
  created_at DATETIME(3) NOT NULL,
  moved_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  KEY ix_{prefix}interactions_history_contact (contact_id, kind)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci', NULL)
ON DUPLICATE KEY UPDATE table_kind = VALUES(table_kind), ddl = VALUES(ddl), probe = VALUES(probe);
