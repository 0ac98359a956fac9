-- The recipients directory, and bulk sends (batches).

CREATE TABLE recipients (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- E.164: one recipient per number per account.
    phone TEXT COLLATE "C" NOT NULL,
    -- The number's digits reversed: "last digits" searches become index range scans.
    phone_rev TEXT COLLATE "C" NOT NULL,
    -- The name folded for search: lowercase, accents and Arabic-script marks removed.
    search_key TEXT COLLATE "C" NOT NULL,
    -- A JSON array of lowercase tags, and the same as "|a|b|" for the tag filter.
    tags TEXT NOT NULL DEFAULT '[]',
    tag_key TEXT NOT NULL DEFAULT '|',
    locale TEXT,
    metadata TEXT,
    opted_out_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Also the opt-out check of every send: one indexed lookup.
CREATE UNIQUE INDEX recipients_phone ON recipients(account_id, phone);
CREATE INDEX recipients_phone_rev ON recipients(account_id, phone_rev);
-- Covering: a name search ranks and pages on the index alone.
CREATE INDEX recipients_search ON recipients(account_id, search_key, id);

CREATE TABLE batches (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    queued INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    canceled_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX batches_account ON batches(account_id, id);

-- A batch's progress: counts per status of its messages.
CREATE INDEX messages_batch ON messages(batch_id, status);
