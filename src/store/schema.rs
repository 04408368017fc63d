//! The diesel schema of `migrations/`, written by hand to match the SQL.
//!
//! `diesel print-schema` (see `diesel.toml`) would write `Integer` for the
//! `INTEGER PRIMARY KEY` ids; they are SQLite rowids, 64-bit, hence `BigInt`
//! here (diesel issue #852). Keep that when regenerating.
#![allow(missing_docs)]

diesel::table! {
    resume_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_digest -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        login_id -> BigInt,
        login_ends_at -> BigInt,
    }
}

diesel::table! {
    sounds (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        file_id -> Text,
        duration_ms -> BigInt,
        sample_rate -> Integer,
        channels -> Integer,
        size -> BigInt,
        sha256 -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        username_key -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> BigInt,
        last_seen -> Nullable<BigInt>,
    }
}

diesel::joinable!(resume_tokens -> users (user_id));
diesel::joinable!(sounds -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(resume_tokens, sounds, users);
