-- Deletes up to $1 (bigint) ended sessions (idle or absolute end passed; `idle_until` is never
-- later than `expires_at`, so it alone tells). Returns one row per session deleted.
WITH doomed AS (
  SELECT id_hash FROM web_sessions
  WHERE idle_until <= now()
  ORDER BY idle_until
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
DELETE FROM web_sessions s
USING doomed d
WHERE s.id_hash = d.id_hash
RETURNING s.id_hash
