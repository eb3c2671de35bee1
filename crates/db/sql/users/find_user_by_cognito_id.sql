-- The user a verified Cognito access token speaks for. $1: the token's sub. No row when the
-- post-confirmation trigger never recorded them.
SELECT uuid, handle, display_name FROM users WHERE cognito_user_id = $1
