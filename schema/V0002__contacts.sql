-- Contact methods and statuses (reference tables: their rows are in seeds/), contacts per company
-- and their channels: one row per contact and method.

CREATE TABLE IF NOT EXISTS contact_methods (
  id TINYINT UNSIGNED NOT NULL,
  code VARCHAR(16) NOT NULL,
  description VARCHAR(200) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_contact_methods_code (code)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS contact_statuses (
  id SMALLINT UNSIGNED NOT NULL,
  code VARCHAR(32) NOT NULL,
  description VARCHAR(200) NOT NULL,
  -- A final status ends a message's life for that method: history moves take only those.
  is_final TINYINT(1) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_contact_statuses_code (code),
  CONSTRAINT ck_contact_statuses_is_final CHECK (is_final IN (0, 1))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS contacts (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  company_id BIGINT UNSIGNED NOT NULL,
  external_ref VARCHAR(100) NULL,
  name VARCHAR(200) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  -- Lets campaign messages reference (company, contact) so that a message for a contact of
  -- another company is refused by the server itself.
  UNIQUE KEY uq_contacts_company_id (company_id, id),
  UNIQUE KEY uq_contacts_company_external_ref (company_id, external_ref),
  CONSTRAINT fk_contacts_company FOREIGN KEY (company_id) REFERENCES companies (id),
  CONSTRAINT ck_contacts_name CHECK (name <> '')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS contact_channels (
  contact_id BIGINT UNSIGNED NOT NULL,
  method_id TINYINT UNSIGNED NOT NULL,
  address VARCHAR(254) NOT NULL,
  is_primary TINYINT(1) NOT NULL DEFAULT 1,
  opted_out_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (contact_id, method_id),
  -- Who owns this address (opt-outs and replies arrive by address); also serves the method FK.
  KEY ix_contact_channels_method_address (method_id, address),
  CONSTRAINT fk_contact_channels_contact FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE,
  CONSTRAINT fk_contact_channels_method FOREIGN KEY (method_id) REFERENCES contact_methods (id),
  CONSTRAINT ck_contact_channels_address CHECK (address <> ''),
  CONSTRAINT ck_contact_channels_is_primary CHECK (is_primary IN (0, 1))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
