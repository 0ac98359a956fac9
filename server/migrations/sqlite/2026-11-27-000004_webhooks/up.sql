-- Webhooks: endpoints, the events recorded with the state changes that caused them (an
-- outbox), one delivery per event and endpoint, and every attempt made.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT,
    -- JSON array of event types; ["*"] for every type.
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    -- Why the server disabled it (410 Gone, 5 days of failures); NULL when enabled or disabled by hand.
    disabled_reason TEXT,
    -- The signing secret, encrypted with the server's webhook key (ChaCha20-Poly1305).
    secret_enc TEXT NOT NULL,
    -- The secret before the last rotation, still signed with until previous_secret_until.
    previous_secret_enc TEXT,
    previous_secret_until TIMESTAMP,
    -- Start of the current run of failed attempts; NULL after a success.
    failing_since TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Every recorded state change asks which endpoints of its account want it.
CREATE INDEX webhook_endpoints_account ON webhook_endpoints(account_id, enabled);

CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The exact JSON body every delivery of this event sends.
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    -- pending, delivered, failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    -- A worker holds it until then; after a crash the lease runs out and it is delivered again.
    claimed_until TIMESTAMP,
    last_http_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
-- The claim: pending and due, oldest first. Not a partial index: the status is a bound
-- parameter, which a generic PostgreSQL plan cannot match against an index predicate.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    http_status INTEGER,
    duration_ms INTEGER NOT NULL,
    -- The first 1 KB of the response body.
    response_body TEXT,
    -- The network error (refused, timeout, refused address), when there was no response.
    error TEXT,
    next_attempt_at TIMESTAMP,
    PRIMARY KEY (delivery_id, number)
);
