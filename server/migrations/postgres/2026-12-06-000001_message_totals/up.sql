-- `GET /v1/queue` counts an account's messages per status. Counting finished ones read the
-- account's whole history on every call, a scan that grew for ever. Messages that finished
-- (delivered, failed, expired, canceled: the statuses a message never leaves) are now
-- counted here as they finish, by a trigger, so no code path can forget to; the statuses of
-- work in progress are still counted from the queue index, which holds only the backlog.
-- Every message is inserted `queued` (sends, OTP and bulk alike), so it finishes by an
-- UPDATE, and no INSERT trigger is needed (one would cost every row of a bulk send).
-- Each connection counts in a shard of its own (its backend's pid decides), so the several
-- writers that apply phones' reports at once never wait on one another's counter row; the
-- reader sums the shards. A status that is left (never, today) is taken off again.
CREATE TABLE message_totals (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    shard INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (account_id, status, shard)
);

INSERT INTO message_totals (account_id, status, shard, n)
    SELECT account_id, status, 0, COUNT(*) FROM messages
    WHERE status IN ('delivered', 'failed', 'expired', 'canceled')
    GROUP BY account_id, status;

CREATE FUNCTION message_totals_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    finished CONSTANT TEXT[] := ARRAY['delivered', 'failed', 'expired', 'canceled'];
    my_shard CONSTANT INTEGER := pg_backend_pid() % 64;
BEGIN
    IF NEW.status = ANY (finished) THEN
        INSERT INTO message_totals (account_id, status, shard, n) VALUES (NEW.account_id, NEW.status, my_shard, 1)
            ON CONFLICT (account_id, status, shard) DO UPDATE SET n = message_totals.n + 1;
    END IF;
    IF OLD.status = ANY (finished) THEN
        INSERT INTO message_totals (account_id, status, shard, n) VALUES (OLD.account_id, OLD.status, my_shard, -1)
            ON CONFLICT (account_id, status, shard) DO UPDATE SET n = message_totals.n - 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER message_totals_update AFTER UPDATE OF status ON messages FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status
          AND (NEW.status IN ('delivered', 'failed', 'expired', 'canceled')
               OR OLD.status IN ('delivered', 'failed', 'expired', 'canceled')))
    EXECUTE FUNCTION message_totals_count();
