-- pipeline_hold_set: keeps a campaign set in service until the caller's transaction ends, or refuses it.
--
-- @internal
--
-- Purpose:    the first statement inside the transaction of every routine that writes to or
--             claims from a campaign set (add_status_update, claim_batch, complete_batch,
--             pipeline_mark_ready; `messages load` calls it too), before the transaction reads or
--             writes a table of the set: takes a shared lock on the campaign's row in campaigns,
--             then reads the set's state and refuses a set that is being retired or is retired.
--             Why this makes `campaign retire` exact: retire's freeze locks the same row
--             exclusively (SELECT ... FOR UPDATE) in the transaction that sets the state to
--             'retiring', so it waits until every transaction that passed this check has
--             committed or rolled back; and a transaction that comes after the freeze gets the
--             shared lock only once the freeze has committed, so its read of the state (a new
--             read view, in any isolation level, as this is the transaction's first read) sees
--             'retiring' and it is refused before it touches the set. Shared locks do not
--             conflict with one another, and claim_batch already took this one (the foreign key
--             check of its batches row): the application's calls never wait for each other here,
--             only for a freeze, which is bounded by retire's --lock-timeout. Row locks behave
--             the same on MariaDB and MySQL (InnoDB); in a Galera cluster they hold on one node
--             only, so retire must run on the node the application writes to.
--             Why not the set's campaign_sets row: pipeline_mark_ready serialises its calls on it
--             with an exclusive lock, and claims would then wait for every mark of the campaign.
--             Why not the other mechanisms: the set's GET_LOCK (campaign_set_lock_name) has no
--             shared mode, so taking it in every call would serialise the application's calls,
--             and it is not tied to the transaction; a metadata lock (LOCK TABLES ... WRITE)
--             waits only for transactions that have already touched a table, not for one between
--             its check and its first write, and would block the dump tool's reads as well.
--             Lock order, to keep deadlocks out: this row first, then anything else (the set's
--             campaign_sets row in pipeline_mark_ready, batches, the set's tables); the freeze
--             takes this row first, then the campaign_sets row.
-- Parameters: p_routine      name of the calling routine, for the error messages
--             p_campaign_id  campaigns.id, already checked by pipeline_check_campaign
-- Result:     none.
-- Errors:     SQLSTATE 45000, each starting with the calling routine's name:
--             'campaign N: its table set is being retired; nothing was changed' |
--             'campaign N: its table set is retired'
DROP PROCEDURE IF EXISTS pipeline_hold_set;
DELIMITER $$
CREATE PROCEDURE pipeline_hold_set(
  IN p_routine VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  IN p_campaign_id BIGINT UNSIGNED)
    READS SQL DATA
BEGIN
  DECLARE v_state VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_msg VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
  DECLARE v_held BIGINT UNSIGNED;
  SELECT id INTO v_held FROM campaigns WHERE id = p_campaign_id LOCK IN SHARE MODE;
  SELECT state INTO v_state FROM campaign_sets WHERE campaign_id = p_campaign_id;
  IF v_state = 'retiring' THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ': its table set is being retired; nothing was changed'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
  IF v_state = 'retired' THEN
    SET v_msg = LEFT(CONCAT(p_routine, ': campaign ', p_campaign_id, ': its table set is retired'), 128);
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_msg;
  END IF;
END$$
DELIMITER ;
