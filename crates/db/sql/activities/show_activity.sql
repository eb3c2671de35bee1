-- The status page of one unexpired crud by @$1: the crud and the first $3 of its replies, oldest
-- first (activities_replies_idx, so the cost follows the page, not the thread). No row when the
-- handle/crud pair does not exist. $1: author handle, $2: crud uuid, $3: replies per page (bigint).
SELECT a AS activity, ARRAY(SELECT r FROM activity_replies(a.uuid) r LIMIT $3) AS replies
FROM live_activities a
WHERE a.uuid = $2
  AND lower(a.handle) = lower($1)
