-- The home feed's first page: unexpired top-level cruds, newest first, each with its newest $2
-- replies (oldest first; replies_count is the true total), and the database's clock on every
-- row (`db_now`, the transaction's now(), which is also the instant live_activities compared
-- expires_at with): the feed cache (crates/api/src/feed_cache.rs) keeps the page until its
-- earliest expiry by that clock. $1: page size (bigint), $2: replies per item (bigint).
-- Ordering/cursor contract: (created_at, uuid) descending, served by activities_home_feed_idx,
-- so the cost follows the page, not the table.
-- Rows of live_activities (the one activity shape, migration V2) are decoded by the server.
SELECT now() AS db_now, a AS activity,
       ARRAY(SELECT r FROM newest_replies(a.uuid, $2) r) AS replies
FROM live_activities a
WHERE a.reply_to_activity_uuid IS NULL
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1
