-- `GET /v1/queue` says how many messages were sent and failed in the last hour, and
-- `GET /v1/queue/health` charts both per hour over the last day. Both counted the messages
-- themselves, a scan as long as the traffic of the hour or the day: at 1,000 messages a
-- second, 3.6 million index entries on every poll of the queue page. They are now counted
-- here by the minute, by a trigger, as a message is reported sent (its `sent_at` is set)
-- and as it fails, so no code path can forget to; the readers sum at most a day of minutes.
-- Each connection counts in rows of its own (its backend's pid), so writers applying phones'
-- reports side by side never wait on one another's row (as `message_totals`). Rows older
-- than a day and an hour are deleted by the server's upkeep (`messages::queries::prune_minutes`).
CREATE TABLE message_minutes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    minute TIMESTAMP NOT NULL,
    shard INTEGER NOT NULL,
    sent BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    PRIMARY KEY (account_id, minute, shard)
);

INSERT INTO message_minutes (account_id, minute, shard, sent, failed)
    SELECT account_id, minute, 0, SUM(sent), SUM(failed) FROM (
        SELECT account_id, date_trunc('minute', sent_at) AS minute, 1 AS sent, 0 AS failed
            FROM messages WHERE sent_at >= now() AT TIME ZONE 'UTC' - interval '25 hours'
        UNION ALL
        SELECT account_id, date_trunc('minute', finished_at), 0, 1
            FROM messages WHERE status = 'failed' AND finished_at >= now() AT TIME ZONE 'UTC' - interval '25 hours'
    ) counted GROUP BY account_id, minute;

CREATE FUNCTION message_minutes_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sent_at IS NOT NULL AND OLD.sent_at IS NULL THEN
        INSERT INTO message_minutes (account_id, minute, shard, sent, failed)
            VALUES (NEW.account_id, date_trunc('minute', NEW.sent_at), pg_backend_pid(), 1, 0)
            ON CONFLICT (account_id, minute, shard) DO UPDATE SET sent = message_minutes.sent + 1;
    END IF;
    IF NEW.status = 'failed' AND OLD.status <> 'failed' AND NEW.finished_at IS NOT NULL THEN
        INSERT INTO message_minutes (account_id, minute, shard, sent, failed)
            VALUES (NEW.account_id, date_trunc('minute', NEW.finished_at), pg_backend_pid(), 0, 1)
            ON CONFLICT (account_id, minute, shard) DO UPDATE SET failed = message_minutes.failed + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_minutes_update AFTER UPDATE OF sent_at, status ON messages FOR EACH ROW
    WHEN ((NEW.sent_at IS NOT NULL AND OLD.sent_at IS NULL)
          OR (NEW.status = 'failed' AND OLD.status <> 'failed'))
    EXECUTE FUNCTION message_minutes_count();
