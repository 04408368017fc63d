-- Accounts, saved sounds and resume tokens of the Harmonic server.
-- Times are Unix milliseconds (BIGINT). Ids are SQLite rowids (64-bit).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY NOT NULL,
    -- the name as first written at signup, shown to people
    username      TEXT NOT NULL,
    -- the case-folded name (ASCII lowercase): the uniqueness and lookup key
    username_key  TEXT NOT NULL UNIQUE,
    -- a salted slow hash (PHC string); never a password
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at    BIGINT NOT NULL,
    last_seen     BIGINT
);

CREATE TABLE sounds (
    id          INTEGER PRIMARY KEY NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the user's name for the sound; never used as a file path
    name        TEXT NOT NULL,
    -- the file is sounds/<file_id>.wav, file_id being 32 random hex digits
    file_id     TEXT NOT NULL UNIQUE,
    duration_ms BIGINT NOT NULL,
    sample_rate INTEGER NOT NULL,
    channels    INTEGER NOT NULL,
    size        BIGINT NOT NULL,
    -- hex SHA-256 of the whole file
    sha256      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE resume_tokens (
    id           INTEGER PRIMARY KEY NOT NULL,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- hex SHA-256 of the token; tokens are never stored in clear
    token_digest TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE INDEX resume_tokens_user_id ON resume_tokens (user_id);
CREATE INDEX resume_tokens_expires_at ON resume_tokens (expires_at);
