-- Records a user confirmed by Cognito. Re-delivery of the same confirmation (same sub) inserts
-- nothing and returns no row; a handle held by another user raises users_handle_key (23505).
-- $1: display_name, $2: email, $3: handle, $4: cognito_user_id (the token's sub).
INSERT INTO users (display_name, email, handle, cognito_user_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (cognito_user_id) DO NOTHING
RETURNING uuid
