-- Sets already upgraded keep the column; this only removes the template version.
DELETE FROM campaign_template_steps WHERE version = 2;
DELETE FROM campaign_template_versions WHERE version = 2;
