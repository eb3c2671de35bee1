-- The status page of one unexpired crud by @$1: the crud and all its replies, oldest first.
-- No row when the handle/crud pair does not exist. $1: author handle, $2: crud uuid.
SELECT a AS activity, ARRAY(SELECT r FROM activity_replies(a.uuid) r) AS replies
FROM live_activities a
WHERE a.uuid = $2
  AND a.handle = $1
