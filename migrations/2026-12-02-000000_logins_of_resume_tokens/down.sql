DROP INDEX resume_tokens_login_id;
ALTER TABLE resume_tokens DROP COLUMN login_ends_at;
ALTER TABLE resume_tokens DROP COLUMN login_id;
