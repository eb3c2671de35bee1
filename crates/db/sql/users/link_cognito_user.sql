-- Replaces the placeholder cognito_user_id of user $1 by the real sub $2; no row when the user
-- no longer carries a placeholder (someone linked it meanwhile).
UPDATE users SET cognito_user_id = $2
WHERE uuid = $1 AND cognito_user_id LIKE 'MOCK%'
RETURNING uuid
