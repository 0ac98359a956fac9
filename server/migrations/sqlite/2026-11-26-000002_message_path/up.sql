-- Pairing, the device link and the message queue.

ALTER TABLE devices ADD COLUMN token_hash TEXT;
ALTER TABLE devices ADD COLUMN model TEXT;
ALTER TABLE devices ADD COLUMN app_version TEXT;
ALTER TABLE devices ADD COLUMN sims TEXT NOT NULL DEFAULT '[]';
ALTER TABLE devices ADD COLUMN heartbeat TEXT;
ALTER TABLE devices ADD COLUMN last_heartbeat_at TIMESTAMP;
ALTER TABLE devices ADD COLUMN parts_per_minute INTEGER NOT NULL DEFAULT 25;
ALTER TABLE devices ADD COLUMN parts_per_day INTEGER NOT NULL DEFAULT 5000;
ALTER TABLE devices ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN degraded_at TIMESTAMP;
ALTER TABLE devices ADD COLUMN connected_instance TEXT;
ALTER TABLE devices ADD COLUMN unpaired_at TIMESTAMP;
CREATE UNIQUE INDEX devices_token ON devices(token_hash);

CREATE TABLE pairing_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    to_number TEXT NOT NULL,
    body TEXT NOT NULL,
    -- 0 = OTP, 1 = single sends, 2 = bulk: lower goes first.
    priority SMALLINT NOT NULL,
    status TEXT NOT NULL,
    requested_device_id TEXT,
    device_id TEXT,
    sim SMALLINT,
    encoding TEXT NOT NULL,
    segments INTEGER NOT NULL,
    metadata TEXT,
    batch_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failure_code TEXT,
    failure_reason TEXT,
    expires_at TIMESTAMP NOT NULL,
    queued_at TIMESTAMP NOT NULL,
    dispatched_at TIMESTAMP,
    acked_at TIMESTAMP,
    sent_at TIMESTAMP,
    delivered_at TIMESTAMP,
    finished_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
-- The dispatcher's question: what is queued for this account, most urgent first.
CREATE INDEX messages_queue ON messages(account_id, status, priority, id);
CREATE INDEX messages_device ON messages(device_id, status);
CREATE INDEX messages_account_time ON messages(account_id, id);

CREATE TABLE message_events (
    id TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    detail TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX message_events_message ON message_events(message_id, id);

CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    idem_key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, idem_key)
);
