-- Ends a session whose refresh token $2 the managed login refused, only if it still holds that
-- token: a concurrent refresh that rotated it first has renewed the session, which lives on.
-- Returns the row count.
DELETE FROM web_sessions WHERE id_hash = $1 AND refresh_token = $2
