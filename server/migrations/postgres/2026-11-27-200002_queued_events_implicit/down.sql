INSERT INTO message_events (id, message_id, status, detail, at)
SELECT 'evt_' || substr(id, 5), id, 'queued', NULL, queued_at FROM messages;
