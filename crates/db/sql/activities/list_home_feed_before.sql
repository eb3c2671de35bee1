-- The home feed after a cursor: like list_home_feed, but only cruds older than the crud $2
-- (the last item of the previous page) in (created_at, uuid) order, so cruds posted meanwhile
-- neither shift nor repeat the next page. An unknown cursor gives an empty page.
-- $1: page size (bigint), $2: cursor crud uuid.
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
  AND (a.created_at, a.uuid) < (SELECT c.created_at, c.uuid FROM activities c WHERE c.uuid = $2)
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1
