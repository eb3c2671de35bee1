-- A later page of a status page's replies: like show_activity, but only replies after the reply
-- $4 (the last one of the previous page) in (created_at, uuid) order, so replies posted meanwhile
-- neither shift nor repeat a page. A cursor that is not a reply of this crud gives no replies.
-- $1: author handle, $2: crud uuid, $3: replies per page (bigint), $4: cursor reply uuid.
SELECT a AS activity, ARRAY(
         SELECT r FROM activity_replies(a.uuid) r
         WHERE (r.created_at, r.uuid) > (SELECT c.created_at, c.uuid FROM activities c
                                         WHERE c.uuid = $4 AND c.reply_to_activity_uuid = a.uuid)
         LIMIT $3) AS replies
FROM live_activities a
WHERE a.uuid = $2
  AND lower(a.handle) = lower($1)
