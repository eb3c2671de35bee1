-- The status page of one unexpired crud by @$1: {"activity": {…}, "replies": […]} built by
-- Postgres and passed through unchanged. No row when the handle/crud pair does not exist.
-- $1: author handle, $2: crud uuid.
SELECT json_build_object(
  'activity', json_build_object(
    'uuid', a.uuid, 'display_name', u.display_name, 'handle', u.handle, 'message', a.message,
    'replies_count', a.replies_count, 'reposts_count', a.reposts_count,
    'likes_count', a.likes_count, 'reply_to_activity_uuid', a.reply_to_activity_uuid,
    'expires_at', a.expires_at, 'created_at', a.created_at),
  'replies', COALESCE((
    SELECT json_agg(r ORDER BY r.created_at, r.uuid)
    FROM (
      SELECT r.uuid, ru.display_name, ru.handle, r.message,
             r.replies_count, r.reposts_count, r.likes_count,
             r.reply_to_activity_uuid, r.expires_at, r.created_at
      FROM activities r
      JOIN users ru ON ru.uuid = r.user_uuid
      WHERE r.reply_to_activity_uuid = a.uuid
        AND (r.expires_at IS NULL OR r.expires_at > now())
    ) r
  ), '[]'::json)
)
FROM activities a
JOIN users u ON u.uuid = a.user_uuid
WHERE a.uuid = $2
  AND u.handle = $1
  AND (a.expires_at IS NULL OR a.expires_at > now())
