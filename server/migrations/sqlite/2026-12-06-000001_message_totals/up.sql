-- `GET /v1/queue` counts an account's messages per status. Counting finished ones read the
-- account's whole history on every call, a scan that grew for ever. Messages that finished
-- (delivered, failed, expired, canceled: the statuses a message never leaves) are now
-- counted here as they finish, by a trigger, so no code path can forget to; the statuses of
-- work in progress are still counted from the queue index, which holds only the backlog.
-- Every message is inserted `queued` (sends, OTP and bulk alike), so it finishes by an
-- UPDATE: an INSERT trigger would cost every row of a bulk send (measured: 10-20 % more
-- time to accept 100,000 recipients) and never count anything.
-- `shard` lets several PostgreSQL writers count without waiting on one row; SQLite has one
-- writer and always uses 0. A status that is left (never, today) is taken off again.
CREATE TABLE message_totals (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    shard INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (account_id, status, shard)
) WITHOUT ROWID;

INSERT INTO message_totals (account_id, status, shard, n)
    SELECT account_id, status, 0, COUNT(*) FROM messages
    WHERE status IN ('delivered', 'failed', 'expired', 'canceled')
    GROUP BY account_id, status;

CREATE TRIGGER message_totals_update AFTER UPDATE OF status ON messages
WHEN NEW.status IS NOT OLD.status
    AND (NEW.status IN ('delivered', 'failed', 'expired', 'canceled')
         OR OLD.status IN ('delivered', 'failed', 'expired', 'canceled'))
BEGIN
    INSERT INTO message_totals (account_id, status, shard, n)
        SELECT NEW.account_id, NEW.status, 0, 1
        WHERE NEW.status IN ('delivered', 'failed', 'expired', 'canceled')
        ON CONFLICT (account_id, status, shard) DO UPDATE SET n = n + 1;
    INSERT INTO message_totals (account_id, status, shard, n)
        SELECT OLD.account_id, OLD.status, 0, -1
        WHERE OLD.status IN ('delivered', 'failed', 'expired', 'canceled')
        ON CONFLICT (account_id, status, shard) DO UPDATE SET n = n - 1;
END;
