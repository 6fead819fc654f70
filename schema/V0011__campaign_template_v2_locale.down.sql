-- Reverts V0011: removes template version 2. Refuses while a set that is not retired has any of
-- its steps (its tables have the column; removing the version would hide that): "Check constraint
-- 'ck_v0011_down_no_sets_at_v2' is violated". Retired sets hold no steps (campaign_set_drop).
DROP TEMPORARY TABLE IF EXISTS v0011_down_guard;
CREATE TEMPORARY TABLE v0011_down_guard (
  sets_at_v2 BIGINT NOT NULL,
  CONSTRAINT ck_v0011_down_no_sets_at_v2 CHECK (sets_at_v2 = 0)
);
INSERT INTO v0011_down_guard (sets_at_v2)
SELECT COUNT(*) FROM campaign_sets s
 WHERE s.state <> 'retired'
   AND (s.template_version >= 2 OR EXISTS (SELECT 1 FROM campaign_set_steps t WHERE t.campaign_id = s.campaign_id AND t.version = 2));
DROP TEMPORARY TABLE v0011_down_guard;

DELETE FROM campaign_template_steps WHERE version = 2;
DELETE FROM campaign_template_versions WHERE version = 2;
