DROP INDEX resume_tokens_expires_at;
DROP INDEX resume_tokens_user_id;
DROP TABLE resume_tokens;
DROP TABLE sounds;
DROP TABLE users;
