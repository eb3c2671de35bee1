-- Creates a crud for the user with handle $1 and returns it as a live_activities row; no row
-- (and nothing written) when no such user exists. expires_at comes from the database clock.
-- $1: author handle, $2: message, $3: ttl in seconds (bigint), $4: the crud's uuid, chosen by
-- the caller before sending so that a lost answer can be checked (create_queue.rs). Sending
-- the same uuid again writes nothing and returns no row.
WITH inserted AS (
  INSERT INTO activities (uuid, user_uuid, message, expires_at)
  SELECT $4, u.uuid, $2, now() + $3::bigint * interval '1 second'
  FROM users u
  WHERE lower(u.handle) = lower($1)
  ON CONFLICT (uuid) DO NOTHING
  RETURNING activities AS row
)
SELECT 1::bigint AS ord, c AS activity, '{}'::live_activities[] AS replies
FROM inserted i CROSS JOIN LATERAL activity_card(i.row) c
