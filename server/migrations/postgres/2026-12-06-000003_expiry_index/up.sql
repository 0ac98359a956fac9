-- The expiry sweep, which runs every second on the writer, looks for live messages past
-- their time. No index served it, so each sweep read every message the server ever stored
-- (measured on SQLite: 158 ms with 1,000,000 finished messages, a writer stalled for a
-- seventh of every second, and more as history grows). This index holds the live messages
-- only (queued or dispatched), by expiry; the sweep's query repeats its condition literally
-- (`messages::queries::EXPIRY_DUE_SQL`) so that both databases see that it applies.
CREATE INDEX messages_expiring ON messages(expires_at) WHERE status IN ('queued', 'dispatched');
