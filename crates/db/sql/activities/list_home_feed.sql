-- The home feed's first page: unexpired top-level cruds, newest first, with their replies.
-- $1: page size (bigint). Ordering/cursor contract: (created_at, uuid) descending, served by
-- activities_home_feed_idx, so the cost follows the page, not the table.
-- Plain columns (JSON is encoded by the server, which scales out); only the rare replies are
-- aggregated to JSON here, and only for cruds whose replies_count says they have some.
SELECT a.uuid, u.display_name, u.handle, a.message,
       a.replies_count, a.reposts_count, a.likes_count,
       a.reply_to_activity_uuid, a.expires_at, a.created_at,
       CASE WHEN a.replies_count > 0 THEN (
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
       ) END AS replies
FROM activities a
JOIN users u ON u.uuid = a.user_uuid
WHERE a.reply_to_activity_uuid IS NULL
  AND (a.expires_at IS NULL OR a.expires_at > now())
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1
