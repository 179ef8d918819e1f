-- A page of a user's aliases, newest first, read in order from an index (issue 10): the listing's
-- conditions are user_id and deleted_at IS NULL, its order created_at.
CREATE INDEX aliases_user_deleted_created ON aliases (user_id, deleted_at, created_at);
