-- batches: (campaign_id, claimed_at, message_count), so a campaign's claim rate is read from the
-- index alone.
--
-- Serves: health_campaigns' claim rate over the last N minutes (SUM(message_count) of the
-- campaign's batches WHERE campaign_id = ? AND claimed_at >= ?): a range of the batches claimed
-- inside the window, covering, for every campaign each minute. ix_batches_campaign
-- (campaign_id, completed_at, lease_until) cannot serve it: claimed_at is not in it, and a
-- campaign's batches would all be read. log_batches is not used: nothing writes it yet, and
-- rotation empties it.

ALTER TABLE batches ADD KEY ix_batches_campaign_claimed (campaign_id, claimed_at, message_count);
