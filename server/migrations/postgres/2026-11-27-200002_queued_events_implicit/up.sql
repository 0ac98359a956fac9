-- A message's first event, `queued` at `queued_at`, is read from the message itself and no
-- longer stored: the stored copies would now show twice. (Re-queue events carry a detail.)
DELETE FROM message_events WHERE status = 'queued' AND detail IS NULL;
