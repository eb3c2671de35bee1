-- A user's page: {"profile": {uuid, handle, display_name, bio, cruds_count},
-- "activities": [feed items…]} built by Postgres and passed through unchanged.
-- activities: the user's unexpired top-level cruds, newest first, at most $2, each with its
-- replies (activities_user_feed_idx). cruds_count counts the user's unexpired top-level cruds.
-- No row for an unknown handle. $1: handle, $2: page size (bigint).
SELECT json_build_object(
  'profile', json_build_object(
    'uuid', u.uuid, 'handle', u.handle, 'display_name', u.display_name, 'bio', u.bio,
    'cruds_count', (
      SELECT count(*) FROM activities c
      WHERE c.user_uuid = u.uuid AND c.reply_to_activity_uuid IS NULL
        AND (c.expires_at IS NULL OR c.expires_at > now()))),
  'activities', COALESCE((
    SELECT json_agg(x ORDER BY x.created_at DESC, x.uuid DESC)
    FROM (
      SELECT a.uuid, u.display_name, u.handle, a.message,
             a.replies_count, a.reposts_count, a.likes_count,
             a.reply_to_activity_uuid, a.expires_at, a.created_at,
             COALESCE(CASE WHEN a.replies_count > 0 THEN (
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
             ) END, '[]'::json) AS replies
      FROM activities a
      WHERE a.user_uuid = u.uuid
        AND a.reply_to_activity_uuid IS NULL
        AND (a.expires_at IS NULL OR a.expires_at > now())
      ORDER BY a.created_at DESC, a.uuid DESC
      LIMIT $2
    ) x
  ), '[]'::json)
)
FROM users u
WHERE u.handle = $1
