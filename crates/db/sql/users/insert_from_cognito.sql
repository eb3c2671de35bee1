-- Records a user confirmed by Cognito; returns the new row's uuid, or no row when nothing was
-- inserted because a unique key is taken: the same sub (the confirmation delivered again, maybe
-- at this very moment by another Lambda container: DO NOTHING waits for that transaction and
-- then skips) or the handle (held by another user). users.rs tells the two apart afterwards.
-- $1: display_name, $2: email, $3: handle, $4: cognito_user_id (the token's sub).
INSERT INTO users (display_name, email, handle, cognito_user_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
RETURNING uuid
