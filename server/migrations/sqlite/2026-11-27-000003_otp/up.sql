-- One-time codes. The code itself is never stored: only an HMAC-SHA256 keyed with a server
-- secret that lives outside the database.

CREATE TABLE otps (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    to_number TEXT NOT NULL,
    purpose TEXT NOT NULL,
    locale TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    code_length SMALLINT NOT NULL,
    -- pending, verified, failed (attempts spent), expired, canceled (superseded by a newer send)
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    verified_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
-- Abuse limits: sends per recipient and purpose, and per account, in a time window.
CREATE INDEX otps_recipient ON otps(account_id, to_number, purpose, created_at);
CREATE INDEX otps_account_time ON otps(account_id, created_at);

-- What the API shows, and what the stored text becomes once a phone holds the SMS: the text
-- with the code masked. NULL for ordinary messages.
ALTER TABLE messages ADD COLUMN redacted_body TEXT;
