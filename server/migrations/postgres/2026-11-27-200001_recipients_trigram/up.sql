-- A name search is `search_key LIKE '%fragment%'`, which a B-tree cannot serve: PostgreSQL
-- scanned the account's whole directory. A trigram index finds the matching rows directly.
--
-- pg_trgm ships in PostgreSQL's contrib package and is shared by the whole database, so it
-- goes into `public` (or stays wherever it already is) and the index names its operator class
-- there. Without it, or without the right to install it, searches still work by scanning:
-- its absence must never stop the server from starting.
DO $$
DECLARE
    trgm_schema name;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
        SELECT n.nspname INTO trgm_schema
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_trgm';
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS recipients_search_trigram ON recipients USING gin (search_key %I.gin_trgm_ops)',
            trgm_schema);
    ELSE
        RAISE NOTICE 'pg_trgm is not available: recipient name searches scan the directory';
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'no trigram index for recipient search (%): name searches scan the directory', SQLERRM;
END
$$;
