-- The home feed's first page: unexpired top-level cruds, newest first, each with its newest $2
-- replies (oldest first; replies_count is the true total). $1: page size (bigint), $2: replies
-- per item (bigint). Ordering/cursor contract: (created_at, uuid) descending, served by
-- activities_home_feed_idx, so the cost follows the page, not the table.
-- Rows of live_activities (the one activity shape, migration V2) are decoded by the server.
SELECT a AS activity, ARRAY(SELECT r FROM newest_replies(a.uuid, $2) r) AS replies
FROM live_activities a
WHERE a.reply_to_activity_uuid IS NULL
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1
