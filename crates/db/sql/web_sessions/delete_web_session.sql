-- Ends a session (sign-out, a refused refresh, a new sign-in over an old one). Returns its
-- refresh token, for revoking; no row when there was no such session.
DELETE FROM web_sessions WHERE id_hash = $1 RETURNING refresh_token
