-- Moves a live session's idle end to $2 seconds from now (never past its absolute end).
-- Returns the row count: 0 when the session has ended meanwhile.
UPDATE web_sessions
SET idle_until = least(now() + $2::bigint * interval '1 second', expires_at)
WHERE id_hash = $1 AND expires_at > now() AND idle_until > now()
