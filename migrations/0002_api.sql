-- What the REST API needs beyond the initial schema.

-- A new recipient proves its address by following a link; only the SHA-256 of the link's token is kept.
ALTER TABLE recipients ADD COLUMN verification_token_hash BINARY(32) NULL AFTER email_verified_at;

-- Usernames and aliases may name their own default sender display name and recipient, as in addy.io.
ALTER TABLE usernames ADD COLUMN from_name VARCHAR(255) NULL AFTER description;
ALTER TABLE usernames ADD COLUMN default_recipient_id CHAR(36) NULL AFTER from_name;

-- Listing a user's aliases newest first, and searching them, without scanning other users' rows.
CREATE INDEX aliases_user_created ON aliases (user_id, created_at);
