-- Messages sent with a `device_id` wait for that device only. Whenever a claim finds the
-- account's general queue short, the dispatcher asks which devices such messages name; the
-- queue index made that a walk over every queued message of the account. This index holds
-- only messages that name a device (few in most accounts), and the query's own
-- `IS NOT NULL` matches its condition without a bound value.
CREATE INDEX messages_named ON messages(account_id, requested_device_id, status) WHERE requested_device_id IS NOT NULL;
