-- newest_replies(parent, n) reads only the n replies it returns: a backward scan of
-- activities_replies_idx. V4 ordered activity_replies (whose ORDER BY is ascending, so the
-- planner keeps it as a sorted subquery) descending, which it could only do by reading and
-- sorting every reply: with 20,000 replies on the newest crud the home feed served 92 requests/s
-- against 8,236/s before the flood (script/bench, 8 readers), though its answer stayed 11 KB.
CREATE OR REPLACE FUNCTION newest_replies(parent uuid, n bigint) RETURNS SETOF live_activities
LANGUAGE sql STABLE
AS $$
  SELECT newest.* FROM (
    SELECT r.* FROM live_activities r
    WHERE r.reply_to_activity_uuid = parent
    ORDER BY r.created_at DESC, r.uuid DESC
    LIMIT n
  ) newest
  ORDER BY newest.created_at, newest.uuid
$$;
