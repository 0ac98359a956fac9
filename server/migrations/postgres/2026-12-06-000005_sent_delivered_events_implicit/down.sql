INSERT INTO message_events (id, message_id, status, detail, at)
SELECT 'evt_' || substr(id, 5) || '_sent', id, 'sent', NULL, sent_at FROM messages WHERE sent_at IS NOT NULL;
INSERT INTO message_events (id, message_id, status, detail, at)
SELECT 'evt_' || substr(id, 5) || '_delivered', id, 'delivered', NULL, delivered_at FROM messages WHERE delivered_at IS NOT NULL;
