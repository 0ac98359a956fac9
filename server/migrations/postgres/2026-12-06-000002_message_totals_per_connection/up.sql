-- Each connection now counts finished messages in rows of its own, keyed by its backend's
-- pid, instead of in one of 64 shards chosen by pid modulo 64. Two connections whose pids met
-- modulo 64 shared their rows: one applying reports for accounts A then B in a transaction
-- and the other for B then A each waited for the other's row, and PostgreSQL's deadlock
-- detector failed one of the two batches after a second. Rows keyed by the whole pid are
-- written by one connection only. The rows of connections that ended are folded into shard 0
-- (never a pid) by the server's upkeep (`messages::queries::fold_totals`).
CREATE OR REPLACE FUNCTION message_totals_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    finished CONSTANT TEXT[] := ARRAY['delivered', 'failed', 'expired', 'canceled'];
    my_shard CONSTANT INTEGER := pg_backend_pid();
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
