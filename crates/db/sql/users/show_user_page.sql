-- A user's page: the profile (uuid, handle, display_name, bio, cruds_count) on every row, and
-- the user's unexpired top-level cruds, newest first, at most $2, each with its newest $3
-- replies (activities_user_cruds_idx). cruds_count counts the user's unexpired top-level cruds
-- up to 1,000 (users.rs CRUDS_COUNT_CAP): a view reads at most that many, however many the user
-- has written.
-- A user without cruds gives one row whose `activity` is NULL; an unknown handle gives no row.
-- $1: handle, $2: page size (bigint), $3: replies per item (bigint).
SELECT u.uuid, u.handle, u.display_name, u.bio, counted.cruds_count,
       page.activity, page.replies
FROM users u
-- Counted once per page, not once per row of it.
CROSS JOIN LATERAL (
  SELECT count(*) AS cruds_count FROM (
    SELECT FROM live_activities c
    WHERE c.user_uuid = u.uuid AND c.reply_to_activity_uuid IS NULL
    LIMIT 1000
  ) bounded
) counted
LEFT JOIN LATERAL (
  SELECT a AS activity, ARRAY(SELECT r FROM newest_replies(a.uuid, $3) r) AS replies,
         a.created_at, a.uuid
  FROM live_activities a
  WHERE a.user_uuid = u.uuid
    AND a.reply_to_activity_uuid IS NULL
  ORDER BY a.created_at DESC, a.uuid DESC
  LIMIT $2
) page ON true
WHERE lower(u.handle) = lower($1)
ORDER BY page.created_at DESC, page.uuid DESC
