-- list_home_feed.sql with the database's clock on every row (`db_now`, the transaction's
-- now(), which is also the instant live_activities compared expires_at with): the feed cache
-- (crates/api/src/feed_cache.rs) keeps the page until its earliest expiry by that clock.
-- $1: page size (bigint), $2: replies per item (bigint).
SELECT now() AS db_now, a AS activity,
       ARRAY(SELECT r FROM newest_replies(a.uuid, $2) r) AS replies
FROM live_activities a
WHERE a.reply_to_activity_uuid IS NULL
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1
