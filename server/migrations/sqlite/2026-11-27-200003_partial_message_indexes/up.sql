-- Each of these indexes serves only queries that name a value of its column (a device, a
-- batch, a time since), so rows without one need no entry: a new message then goes into three
-- of the table's seven indexes (four in a bulk), and each status change into fewer.
DROP INDEX messages_device;
CREATE INDEX messages_device ON messages(device_id, status) WHERE device_id IS NOT NULL;
DROP INDEX messages_batch;
CREATE INDEX messages_batch ON messages(batch_id, status) WHERE batch_id IS NOT NULL;
DROP INDEX messages_sent;
CREATE INDEX messages_sent ON messages(account_id, sent_at) WHERE sent_at IS NOT NULL;
DROP INDEX messages_finished;
CREATE INDEX messages_finished ON messages(account_id, status, finished_at) WHERE finished_at IS NOT NULL;
