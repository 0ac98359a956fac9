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
    }
}

diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(devices -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, api_keys, devices);
