//! Table definitions shared by both backends (the migrations keep them identical).

diesel::table! {
    accounts (id) {
        id -> Text,
        name -> Text,
        email -> Text,
        plan -> Text,
        status -> Text,
        expires_at -> Timestamp,
        default_region -> Nullable<Text>,
        queue_paused_at -> Nullable<Timestamp>,
        queue_pause_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        enabled -> Bool,
        online -> Bool,
        last_seen_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        token_hash -> Nullable<Text>,
        model -> Nullable<Text>,
        app_version -> Nullable<Text>,
        sims -> Text,
        heartbeat -> Nullable<Text>,
        last_heartbeat_at -> Nullable<Timestamp>,
        parts_per_minute -> Integer,
        parts_per_day -> Integer,
        consecutive_failures -> Integer,
        degraded_at -> Nullable<Timestamp>,
        connected_instance -> Nullable<Text>,
        unpaired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Finished messages per account and status, kept by a trigger (see the migration
    /// `message_totals`); an account's figure is the sum of its shards.
    message_totals (account_id, status, shard) {
        account_id -> Text,
        status -> Text,
        shard -> Integer,
        n -> BigInt,
    }
}

diesel::table! {
    /// Messages sent and failed per account and minute, kept by a trigger (see the migration
    /// `message_minutes`); a minute's figure is the sum of its shards.
    message_minutes (account_id, minute, shard) {
        account_id -> Text,
        minute -> Timestamp,
        shard -> Integer,
        sent -> BigInt,
        failed -> BigInt,
    }
}

diesel::table! {
    pairing_codes (code_hash) {
        code_hash -> Text,
        account_id -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        account_id -> Text,
        to_number -> Text,
        body -> Text,
        priority -> SmallInt,
        status -> Text,
        requested_device_id -> Nullable<Text>,
        device_id -> Nullable<Text>,
        sim -> Nullable<SmallInt>,
        encoding -> Text,
        segments -> Integer,
        metadata -> Nullable<Text>,
        batch_id -> Nullable<Text>,
        attempts -> Integer,
        failure_code -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        expires_at -> Timestamp,
        queued_at -> Timestamp,
        dispatched_at -> Nullable<Timestamp>,
        acked_at -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        redacted_body -> Nullable<Text>,
    }
}

diesel::table! {
    message_events (id) {
        id -> Text,
        message_id -> Text,
        status -> Text,
        detail -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (account_id, idem_key) {
        account_id -> Text,
        idem_key -> Text,
        body_hash -> Text,
        status_code -> Integer,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    otps (id) {
        id -> Text,
        account_id -> Text,
        to_number -> Text,
        purpose -> Text,
        locale -> Text,
        code_hash -> Text,
        code_length -> SmallInt,
        status -> Text,
        attempts -> Integer,
        max_attempts -> Integer,
        message_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        verified_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        account_id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        events -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret_enc -> Text,
        previous_secret_enc -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        account_id -> Text,
        event_type -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        event_id -> Text,
        endpoint_id -> Text,
        account_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        claimed_until -> Nullable<Timestamp>,
        last_http_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (delivery_id, number) {
        delivery_id -> Text,
        number -> Integer,
        at -> Timestamp,
        http_status -> Nullable<Integer>,
        duration_ms -> Integer,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    console_logins (account_id) {
        account_id -> Text,
        password_hash -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    console_sessions (id_hash) {
        id_hash -> Text,
        account_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    server_instances (id) {
        id -> Text,
        started_at -> Timestamp,
        seen_at -> Timestamp,
    }
}

diesel::table! {
    recipients (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        phone -> Text,
        phone_rev -> Text,
        search_key -> Text,
        tags -> Text,
        tag_key -> Text,
        locale -> Nullable<Text>,
        metadata -> Nullable<Text>,
        opted_out_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    batches (id) {
        id -> Text,
        account_id -> Text,
        queued -> Integer,
        rejected -> Integer,
        canceled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(console_logins -> accounts (account_id));
diesel::joinable!(console_sessions -> accounts (account_id));
diesel::joinable!(devices -> accounts (account_id));
diesel::joinable!(message_events -> messages (message_id));
diesel::joinable!(otps -> messages (message_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    server_instances,
    api_keys,
    devices,
    pairing_codes,
    messages,
    message_events,
    idempotency_keys,
    otps,
    webhook_endpoints,
    webhook_events,
    webhook_deliveries,
    webhook_attempts,
    console_logins,
    console_sessions,
    recipients,
    batches
);
