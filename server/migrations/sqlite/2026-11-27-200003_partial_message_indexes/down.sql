DROP INDEX messages_device;
CREATE INDEX messages_device ON messages(device_id, status);
DROP INDEX messages_batch;
CREATE INDEX messages_batch ON messages(batch_id, status);
DROP INDEX messages_sent;
CREATE INDEX messages_sent ON messages(account_id, sent_at);
DROP INDEX messages_finished;
CREATE INDEX messages_finished ON messages(account_id, status, finished_at);
