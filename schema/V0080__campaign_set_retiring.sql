-- A campaign set being retired. `campaign retire` commits 'retiring' before its final checksum;
-- from then on every routine that writes to or claims from the set refuses it
-- (pipeline_hold_set), so what retire checksums, dumps and verifies is a set nobody can change.
-- A retire killed after that leaves the set 'retiring' (`campaign list` shows it): the next
-- `campaign retire N` resumes it, `campaign retire N --cancel` returns it to service.
-- The value is appended: an ENUM that only gains members at its end keeps the numbers of the
-- values stored, and both servers change the definition without copying the table.
ALTER TABLE campaign_sets
  MODIFY COLUMN state ENUM('creating', 'active', 'upgrading', 'retired', 'retiring') NOT NULL DEFAULT 'creating';
