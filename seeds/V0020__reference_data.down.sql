DELETE FROM roles WHERE name = 'administrator';
DELETE FROM run_types WHERE id IN (1, 2, 3);
DELETE FROM contact_statuses WHERE id BETWEEN 1 AND 11;
DELETE FROM contact_methods WHERE id IN (1, 2, 3, 4);
