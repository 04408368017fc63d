-- Every resume token belongs to a login: the one a password began, carried
-- on by each resume. `logout` revokes all of a login's tokens, and no token
-- outlives the login's absolute end.
ALTER TABLE resume_tokens ADD COLUMN login_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE resume_tokens ADD COLUMN login_ends_at BIGINT NOT NULL DEFAULT 0;
-- Tokens issued before logins were recorded: each is a login of its own,
-- ending when the token expires.
UPDATE resume_tokens SET login_id = id, login_ends_at = expires_at;
CREATE INDEX resume_tokens_login_id ON resume_tokens (login_id);
