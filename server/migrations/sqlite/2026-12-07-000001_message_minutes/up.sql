-- `GET /v1/queue` says how many messages were sent and failed in the last hour, and
-- `GET /v1/queue/health` charts both per hour over the last day. Both counted the messages
-- themselves, a scan as long as the traffic of the hour or the day: at 1,000 messages a
-- second, 3.6 million index entries on every poll of the queue page. They are now counted
-- here by the minute, by a trigger, as a message is reported sent (its `sent_at` is set)
-- and as it fails, so no code path can forget to; the readers sum at most a day of minutes.
-- `shard` is PostgreSQL's (a row per counting connection); SQLite's one writer uses 0. Rows
-- older than a day and an hour are deleted by the server's upkeep
-- (`messages::queries::prune_minutes`). Minutes are written as the server writes times.
CREATE TABLE message_minutes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    minute TIMESTAMP NOT NULL,
    shard INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    PRIMARY KEY (account_id, minute, shard)
) WITHOUT ROWID;

INSERT INTO message_minutes (account_id, minute, shard, sent, failed)
    SELECT account_id, minute, 0, SUM(sent), SUM(failed) FROM (
        SELECT account_id, strftime('%Y-%m-%d %H:%M:00', sent_at) AS minute, 1 AS sent, 0 AS failed
            FROM messages WHERE sent_at >= datetime('now', '-25 hours')
        UNION ALL
        SELECT account_id, strftime('%Y-%m-%d %H:%M:00', finished_at), 0, 1
            FROM messages WHERE status = 'failed' AND finished_at >= datetime('now', '-25 hours')
    ) GROUP BY account_id, minute;

CREATE TRIGGER message_minutes_sent AFTER UPDATE OF sent_at ON messages
WHEN NEW.sent_at IS NOT NULL AND OLD.sent_at IS NULL
BEGIN
    INSERT INTO message_minutes (account_id, minute, shard, sent, failed)
        VALUES (NEW.account_id, strftime('%Y-%m-%d %H:%M:00', NEW.sent_at), 0, 1, 0)
        ON CONFLICT (account_id, minute, shard) DO UPDATE SET sent = sent + 1;
END;

CREATE TRIGGER message_minutes_failed AFTER UPDATE OF status ON messages
WHEN NEW.status = 'failed' AND OLD.status <> 'failed' AND NEW.finished_at IS NOT NULL
BEGIN
    INSERT INTO message_minutes (account_id, minute, shard, sent, failed)
        VALUES (NEW.account_id, strftime('%Y-%m-%d %H:%M:00', NEW.finished_at), 0, 0, 1)
        ON CONFLICT (account_id, minute, shard) DO UPDATE SET failed = failed + 1;
END;
