CREATE OR REPLACE FUNCTION message_totals_count() RETURNS trigger LANGUAGE plpgsql AS $$
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
