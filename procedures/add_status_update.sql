-- add_status_update: records a status reported later for a sent message (delivery callbacks).
--
-- @setup INSERT INTO companies (id, name) VALUES (1, 'example')
-- @setup INSERT INTO users (id, company_id, role_id, email)
--          SELECT 1, 1, id, 'admin@example.com' FROM roles WHERE name = 'administrator'
-- @setup INSERT INTO contacts (id, company_id, name) VALUES (1, 1, 'contact')
-- @setup INSERT INTO contact_channels (contact_id, method_id, address) VALUES (1, 1, 'c1@example.com')
-- @setup INSERT INTO campaigns (id, company_id, name, run_type_id, state)
--          SELECT 1, 1, 'example', id, 'active' FROM run_types WHERE code = 'immediate'
-- @setup CALL campaign_set_create(1, @created)
-- @setup INSERT INTO campaign_1_messages (contact_id, method_id, packet, subject, body) VALUES (1, 1, 1, 'Hello', 'Body')
-- @setup CALL mark_packet_ready(1, 1, 1)
-- @setup CALL claim_batch(1, 'immediate', 'example', 10, 60)
-- @setup CALL complete_batch(1, '[{"message_id": 1, "status": "sent"}]')
-- @example campaign_id=1 message_id=1 method='email' status='responded' provider_ref='p-1' detail='yes'
-- @returns update
-- @grant application
--
-- Purpose:    appends a status update (never rewrites one) for a message and method, e.g.
--             delivered, bounced, opened, responded; makes it the message's current status for
--             that method; a 'responded' update is also recorded as an interaction of the contact
--             (who responds, for targeting the likely responders).
-- Parameters: p_campaign_id   campaigns.id
--             p_message_id    the message (id in the campaign's messages table)
--             p_method        contact_methods.code the update is about: email, sms, phone, other
--             p_status        contact_statuses.code (not the pipeline's own pending/ready)
--             p_provider_ref  the provider's reference, up to 200 characters, optional
--             p_detail        free text, up to 1000 characters, optional
-- Result set: one row: status_update_id, interaction_id (NULL unless responded)
-- Errors:     SQLSTATE 45000 'add_status_update: ...': the campaign checks, the set being retired
--             ('campaign N: its table set is being retired; nothing was changed'), message_id unknown in
--             the campaign, method or status unknown, the message never went out by that method,
--             provider_ref/detail too long. A rejected call changes nothing. A message moved to
--             history while the call runs (the history move deleted it after the check above)
--             gets the same 'message_id ... is not in campaign ...' refusal, never the raw
--             foreign-key error 1452.
DROP PROCEDURE IF EXISTS add_status_update;
DELIMITER $$
CREATE PROCEDURE add_status_update(
  IN p_campaign_id BIGINT UNSIGNED,
  IN p_message_id BIGINT UNSIGNED,
  IN p_method VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_status VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_provider_ref TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_detail TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci)
    MODIFIES SQL DATA
BEGIN
  DECLARE v_company_id BIGINT UNSIGNED;
  DECLARE v_method_id TINYINT UNSIGNED;
  DECLARE v_status_id SMALLINT UNSIGNED;
  DECLARE v_update_id BIGINT UNSIGNED;
  DECLARE v_interaction_id BIGINT UNSIGNED DEFAULT NULL;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

  CALL pipeline_check_campaign('add_status_update', p_campaign_id, v_company_id);
  SELECT id INTO v_method_id FROM contact_methods WHERE code = p_method;
  IF v_method_id IS NULL THEN
    SET v_msg = LEFT(CONCAT('add_status_update: unknown method "', COALESCE(p_method, 'NULL'), '"'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  SELECT id INTO v_status_id FROM contact_statuses WHERE code = p_status AND code NOT IN ('pending', 'ready');
  IF v_status_id IS NULL THEN
    SET v_msg = LEFT(CONCAT('add_status_update: unknown status "', COALESCE(p_status, 'NULL'), '"'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF CHAR_LENGTH(p_provider_ref) > 200 OR CHAR_LENGTH(p_detail) > 1000 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'add_status_update: provider_ref over 200 or detail over 1000 characters';
  END IF;
  IF p_message_id IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'add_status_update: message_id must be given';
  END IF;
  BEGIN
    -- ER_NO_REFERENCED_ROW_2: the message row went between the check and the insert (a history
    -- move committed meanwhile): the message is no longer in the campaign.
    DECLARE EXIT HANDLER FOR 1452
    BEGIN
      ROLLBACK;
      SET v_msg = CONCAT('add_status_update: message_id ', p_message_id, ' is not in campaign ', p_campaign_id, ' (moved to history)');
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
      ROLLBACK;
      RESIGNAL;
    END;
    START TRANSACTION;
    -- Inside the transaction, before the set is read: a set being retired refuses the call here,
    -- and one this call got into stays in service (retire waits) until the commit below.
    CALL pipeline_hold_set('add_status_update', p_campaign_id);
    SET @reminderly_message = p_message_id, @reminderly_method = v_method_id, @reminderly_found = NULL, @reminderly_contact = NULL;
    SET @reminderly_sql = CONCAT(
      'SELECT m.contact_id, c.message_id INTO @reminderly_contact, @reminderly_found FROM `', campaign_table_name(p_campaign_id, 'messages'), '` AS m ',
      'LEFT JOIN `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` AS c ON c.message_id = m.id AND c.method_id = ? ',
      'WHERE m.id = ?');
    PREPARE reminderly_su_find FROM @reminderly_sql;
    EXECUTE reminderly_su_find USING @reminderly_method, @reminderly_message;
    DEALLOCATE PREPARE reminderly_su_find;
    IF @reminderly_contact IS NULL THEN
      SET v_msg = CONCAT('add_status_update: message_id ', p_message_id, ' is not in campaign ', p_campaign_id);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    IF @reminderly_found IS NULL THEN
      SET v_msg = LEFT(CONCAT('add_status_update: message ', p_message_id, ' was never sent by ', p_method), 128);
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
    END IF;
    SET @reminderly_now = NOW(3), @reminderly_status = v_status_id, @reminderly_ref = p_provider_ref, @reminderly_detail = p_detail;
    SET @reminderly_sql = CONCAT(
      'INSERT INTO `', campaign_table_name(p_campaign_id, 'status_updates'), '` (message_id, method_id, status_id, provider_ref, detail, created_at) ',
      'VALUES (?, ?, ?, ?, ?, ?)');
    PREPARE reminderly_su_insert FROM @reminderly_sql;
    EXECUTE reminderly_su_insert USING @reminderly_message, @reminderly_method, @reminderly_status, @reminderly_ref, @reminderly_detail, @reminderly_now;
    DEALLOCATE PREPARE reminderly_su_insert;
    SET v_update_id = LAST_INSERT_ID();
    SET @reminderly_sql = CONCAT(
      'UPDATE `', campaign_table_name(p_campaign_id, 'message_contact_status'), '` SET status_id = ?, updated_at = ? ',
      'WHERE message_id = ? AND method_id = ?');
    PREPARE reminderly_su_current FROM @reminderly_sql;
    EXECUTE reminderly_su_current USING @reminderly_status, @reminderly_now, @reminderly_message, @reminderly_method;
    DEALLOCATE PREPARE reminderly_su_current;
    IF p_status = 'responded' THEN
      SET @reminderly_sql = CONCAT(
        'INSERT INTO `', campaign_table_name(p_campaign_id, 'interactions'), '` (message_id, contact_id, method_id, kind, detail, created_at) ',
        'VALUES (?, ?, ?, ''responded'', ?, ?)');
      PREPARE reminderly_su_interaction FROM @reminderly_sql;
      EXECUTE reminderly_su_interaction USING @reminderly_message, @reminderly_contact, @reminderly_method, @reminderly_detail, @reminderly_now;
      DEALLOCATE PREPARE reminderly_su_interaction;
      SET v_interaction_id = LAST_INSERT_ID();
    END IF;
    COMMIT;
  END;
  SELECT v_update_id AS status_update_id, v_interaction_id AS interaction_id;
END$$
DELIMITER ;
