-- Feed and user-page items carry only their newest few replies (their replies_count stays the
-- true total); the status page shows them all. Like activity_replies, a STABLE SQL function
-- returning SETOF is inlined by the planner where it is called.
-- The newest $n replies of a crud, oldest first.
CREATE FUNCTION newest_replies(parent uuid, n bigint) RETURNS SETOF live_activities
LANGUAGE sql STABLE
AS $$
  SELECT newest.* FROM (
    SELECT r.* FROM activity_replies(parent) r
    ORDER BY r.created_at DESC, r.uuid DESC
    LIMIT n
  ) newest
  ORDER BY newest.created_at, newest.uuid
$$;
