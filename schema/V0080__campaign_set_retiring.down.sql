-- Reverts V0080. Refuses while a set is being retired: 'retiring' would have no value to go to
-- (finish the retire with `campaign retire N`, or return the set to service with --cancel). The
-- refusal is the server's: "Check constraint 'ck_v0080_down_no_retiring_sets' is violated".
DROP TEMPORARY TABLE IF EXISTS v0080_down_guard;
CREATE TEMPORARY TABLE v0080_down_guard (
  retiring_sets BIGINT NOT NULL,
  CONSTRAINT ck_v0080_down_no_retiring_sets CHECK (retiring_sets = 0)
);
INSERT INTO v0080_down_guard (retiring_sets) SELECT COUNT(*) FROM campaign_sets WHERE state = 'retiring';
DROP TEMPORARY TABLE v0080_down_guard;

ALTER TABLE campaign_sets
  MODIFY COLUMN state ENUM('creating', 'active', 'upgrading', 'retired') NOT NULL DEFAULT 'creating';
