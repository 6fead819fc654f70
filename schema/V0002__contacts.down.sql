DROP TABLE IF EXISTS contact_channels;
DROP TABLE IF EXISTS contacts;
DROP TABLE IF EXISTS contact_statuses;
DROP TABLE IF EXISTS contact_methods;
