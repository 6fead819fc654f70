-- Reference data: contact methods, contact statuses, run types, and the global administrator role.
-- Safe to re-run: each row is inserted or brought back to these values.

INSERT INTO contact_methods (id, code, description) VALUES
  (1, 'email', 'E-mail'),
  (2, 'sms', 'Text message'),
  (3, 'phone', 'Phone call'),
  (4, 'other', 'Any other channel')
ON DUPLICATE KEY UPDATE code = VALUES(code), description = VALUES(description);

-- pending and ready are the pipeline's own states before sending; the others come from workers
-- and delivery callbacks. Final statuses end a message's life for that method: nothing is sent
-- again and maintenance may move it to history. failed is retried (run type 'retry'), and
-- failed_permanently is what a failure becomes when no attempts are left. Ids are fixed: code
-- looks statuses up by code, never by id, but the ids must not move once rows reference them.
INSERT INTO contact_statuses (id, code, description, is_final) VALUES
  (1, 'pending', 'loaded, not ready for sending yet', 0),
  (2, 'ready', 'ready for sending', 0),
  (3, 'sent', 'handed to the provider', 0),
  (4, 'failed', 'sending failed, will be retried', 0),
  (5, 'delivered', 'delivered to the contact', 1),
  (6, 'bounced', 'rejected by the contact''s provider', 1),
  (7, 'opened', 'opened by the contact', 1),
  (8, 'responded', 'the contact responded', 1),
  (9, 'opted_out', 'the contact opted out of this channel', 1),
  (10, 'failed_permanently', 'failed and no retries left', 1),
  (11, 'queued', 'accepted by the provider, waiting for delivery', 0)
ON DUPLICATE KEY UPDATE code = VALUES(code), description = VALUES(description), is_final = VALUES(is_final);

INSERT INTO run_types (id, code, description) VALUES
  (1, 'immediate', 'messages ready now'),
  (2, 'scheduled', 'messages whose send-after time has come'),
  (3, 'retry', 'failed messages whose backoff has elapsed')
ON DUPLICATE KEY UPDATE code = VALUES(code), description = VALUES(description);

INSERT INTO roles (name, is_global) VALUES ('administrator', 1)
ON DUPLICATE KEY UPDATE is_global = VALUES(is_global);
