-- Replies to the unexpired activity $1 as the user with handle $2, bumping the parent's
-- replies_count in the same statement. The reply expires with its parent.
-- Always one row: author_found and parent_found say what was missing; the reply columns are
-- NULL unless it was written.
-- $1: parent uuid, $2: author handle, $3: message.
WITH author AS (
  SELECT uuid, display_name, handle FROM users WHERE handle = $2
), parent AS (
  UPDATE activities
  SET replies_count = replies_count + 1
  WHERE uuid = $1
    AND (expires_at IS NULL OR expires_at > now())
    AND EXISTS (SELECT 1 FROM author)
  RETURNING uuid, expires_at
), inserted AS (
  INSERT INTO activities (user_uuid, message, reply_to_activity_uuid, expires_at)
  SELECT author.uuid, $3, parent.uuid, parent.expires_at
  FROM author CROSS JOIN parent
  RETURNING uuid, message, replies_count, reposts_count, likes_count,
            reply_to_activity_uuid, expires_at, created_at
)
SELECT EXISTS (SELECT 1 FROM author) AS author_found,
       EXISTS (SELECT 1 FROM activities p
               WHERE p.uuid = $1 AND (p.expires_at IS NULL OR p.expires_at > now())) AS parent_found,
       i.uuid, author.display_name, author.handle, i.message,
       i.replies_count, i.reposts_count, i.likes_count,
       i.reply_to_activity_uuid, i.expires_at, i.created_at,
       NULL::json AS replies
FROM (SELECT 1) AS one
LEFT JOIN inserted i ON true
LEFT JOIN author ON true
