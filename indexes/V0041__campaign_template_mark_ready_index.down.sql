-- Removes the template version; sets already upgraded keep the index (drop it by hand if needed).
DELETE s FROM campaign_template_steps s JOIN campaign_template_versions v ON v.version = s.version
 WHERE v.description = 'messages: index (packet, ready_at) for mark ready';
DELETE FROM campaign_template_versions WHERE description = 'messages: index (packet, ready_at) for mark ready';
