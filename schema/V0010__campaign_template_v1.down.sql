-- Reverts V0010. Refuses while any campaign set is not retired: its tables were built from these
-- templates and reference companies, contacts and campaigns, so they would be left behind
-- (retire each set first: `campaign retire`, which ends in CALL campaign_set_drop). The refusal is
-- the server's: "Check constraint 'ck_v0010_down_no_live_campaign_sets' is violated".
-- campaign_sets goes last, so a run killed part-way can simply be run again.
DROP TEMPORARY TABLE IF EXISTS v0010_down_guard;
CREATE TEMPORARY TABLE v0010_down_guard (
  live_sets BIGINT NOT NULL,
  CONSTRAINT ck_v0010_down_no_live_campaign_sets CHECK (live_sets = 0)
);
INSERT INTO v0010_down_guard (live_sets) SELECT COUNT(*) FROM campaign_sets WHERE state <> 'retired';
DROP TEMPORARY TABLE v0010_down_guard;

DROP TABLE IF EXISTS campaign_set_upgrades;
DROP TABLE IF EXISTS campaign_set_steps;
DROP TABLE IF EXISTS campaign_template_steps;
DROP TABLE IF EXISTS campaign_template_versions;
DROP TABLE IF EXISTS campaign_table_kinds;
DROP TABLE IF EXISTS campaign_sets;
