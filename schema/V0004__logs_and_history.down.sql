DROP TABLE IF EXISTS batches_history;
DROP TABLE IF EXISTS log_batches;
DROP TABLE IF EXISTS log_events;
