-- The home feed after a cursor: like list_home_feed, but only cruds older than the crud $2
-- (the last item of the previous page) in (created_at, uuid) order, so cruds posted meanwhile
-- neither shift nor repeat the next page. An unknown cursor gives an empty page.
-- $1: page size (bigint), $2: cursor crud uuid, $3: replies per item (bigint).
SELECT a AS activity, ARRAY(SELECT r FROM newest_replies(a.uuid, $3) r) AS replies
FROM live_activities a
WHERE a.reply_to_activity_uuid IS NULL
  AND (a.created_at, a.uuid) < (SELECT c.created_at, c.uuid FROM activities c WHERE c.uuid = $2)
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1
