ALTER TABLE batches DROP KEY ix_batches_campaign_claimed;
