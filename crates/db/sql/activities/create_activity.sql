-- Creates a crud for the user with handle $1 and returns it in feed-item shape; no row (and
-- nothing written) when no such user exists. expires_at comes from the database clock.
-- $1: author handle, $2: message, $3: ttl in seconds (bigint).
WITH author AS (
  SELECT uuid, display_name, handle FROM users WHERE handle = $1
), inserted AS (
  INSERT INTO activities (user_uuid, message, expires_at)
  SELECT author.uuid, $2, now() + $3::bigint * interval '1 second'
  FROM author
  RETURNING uuid, message, replies_count, reposts_count, likes_count,
            reply_to_activity_uuid, expires_at, created_at
)
SELECT i.uuid, author.display_name, author.handle, i.message,
       i.replies_count, i.reposts_count, i.likes_count,
       i.reply_to_activity_uuid, i.expires_at, i.created_at,
       NULL::json AS replies
FROM inserted i CROSS JOIN author
