-- A message's `sent` and `delivered` events are read from the message itself (`sent_at`,
-- `delivered_at`, set once each, by the report that moves it there) and no longer stored:
-- a phone's reports then write one row per message, not two. The stored copies would now
-- show twice. (Neither event ever carried a detail.)
DELETE FROM message_events WHERE status IN ('sent', 'delivered') AND detail IS NULL;
