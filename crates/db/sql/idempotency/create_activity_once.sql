-- Creates a crud under an idempotency key, in one statement: the key is claimed for the author
-- and the crud written together, or neither. A key the author used in the last 24 hours is not
-- claimed again and nothing is written (`activity` is NULL; find_keyed.sql says what it made).
-- A claim older than that is taken over. Always one row; author_found says whether $1 exists.
-- $1: author handle, $2: message, $3: ttl in seconds (bigint), $4: the new crud's uuid,
-- $5: the key, $6: SHA-256 of the request's fields (bytea).
WITH author AS (
  SELECT uuid FROM users WHERE lower(handle) = lower($1)
), claimed AS (
  INSERT INTO idempotency_keys (user_uuid, key, request, activity_uuid)
  SELECT author.uuid, $5, $6, $4 FROM author
  ON CONFLICT (user_uuid, key) DO UPDATE
    SET request = EXCLUDED.request, activity_uuid = EXCLUDED.activity_uuid, created_at = now()
    WHERE idempotency_keys.created_at <= now() - interval '24 hours'
  RETURNING activity_uuid
), inserted AS (
  INSERT INTO activities (uuid, user_uuid, message, expires_at)
  SELECT claimed.activity_uuid, author.uuid, $2, now() + $3::bigint * interval '1 second'
  FROM claimed CROSS JOIN author
  RETURNING activities AS row
)
SELECT EXISTS (SELECT 1 FROM author) AS author_found,
       c AS activity, '{}'::live_activities[] AS replies
FROM (SELECT 1) AS one
LEFT JOIN inserted i ON true
LEFT JOIN LATERAL activity_card(i.row) c ON true
