-- The home feed's first page: unexpired top-level cruds, newest first, each with its replies.
-- $1: page size (bigint). Ordering/cursor contract: (created_at, uuid) descending, served by
-- activities_home_feed_idx, so the cost follows the page, not the table.
-- Rows of live_activities (the one activity shape, migration V2) are decoded by the server.
SELECT a AS activity, ARRAY(SELECT r FROM activity_replies(a.uuid) r) AS replies
FROM live_activities a
WHERE a.reply_to_activity_uuid IS NULL
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1
