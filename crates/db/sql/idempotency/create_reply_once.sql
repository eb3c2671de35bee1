-- create_reply.sql under an idempotency key (see create_activity_once.sql): the key is claimed
-- only when the reply can be written (author and unexpired parent found), together with it.
-- $1: parent uuid, $2: author handle, $3: message, $4: the reply's uuid, $5: the key,
-- $6: SHA-256 of the request's fields (bytea).
WITH author AS (
  SELECT uuid FROM users WHERE lower(handle) = lower($2)
), parent AS (
  SELECT uuid, expires_at FROM live_activities WHERE uuid = $1 FOR KEY SHARE
), claimed AS (
  INSERT INTO idempotency_keys (user_uuid, key, request, activity_uuid)
  SELECT author.uuid, $5, $6, $4 FROM author CROSS JOIN parent
  ON CONFLICT (user_uuid, key) DO UPDATE
    SET request = EXCLUDED.request, activity_uuid = EXCLUDED.activity_uuid, created_at = now()
    WHERE idempotency_keys.created_at <= now() - interval '24 hours'
  RETURNING activity_uuid
), inserted AS (
  INSERT INTO activities (uuid, user_uuid, message, reply_to_activity_uuid, expires_at)
  SELECT claimed.activity_uuid, author.uuid, $3, parent.uuid, parent.expires_at
  FROM claimed CROSS JOIN author CROSS JOIN parent
  RETURNING activities AS row
)
SELECT EXISTS (SELECT 1 FROM author) AS author_found,
       EXISTS (SELECT 1 FROM parent) AS parent_found,
       c AS activity, '{}'::live_activities[] AS replies
FROM (SELECT 1) AS one
LEFT JOIN inserted i ON true
LEFT JOIN LATERAL activity_card(i.row) c ON true
