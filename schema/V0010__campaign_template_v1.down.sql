-- Existing campaign sets must be retired (campaign retire) before the templates can go.
DROP TABLE IF EXISTS campaign_set_upgrades;
DROP TABLE IF EXISTS campaign_set_steps;
DROP TABLE IF EXISTS campaign_sets;
DROP TABLE IF EXISTS campaign_template_steps;
DROP TABLE IF EXISTS campaign_template_versions;
DROP TABLE IF EXISTS campaign_table_kinds;
