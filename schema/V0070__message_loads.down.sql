DROP TABLE IF EXISTS message_loads;
