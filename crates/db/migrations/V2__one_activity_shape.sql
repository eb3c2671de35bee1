-- One activity shape, and counts the database keeps.
--
-- live_activities is the only definition of "a crud as the API shows it": unexpired and joined
-- to its author. Every read route selects whole rows of it, and its row type is what the Rust
-- side decodes by field name (db::activity::Activity). A column added to it must be added to
-- activity_card below and to that struct in the same change (the API's shape tests check it).
CREATE VIEW live_activities AS
SELECT a.uuid, a.user_uuid, u.display_name, u.handle, a.message,
       a.replies_count, a.reposts_count, a.likes_count,
       a.reply_to_activity_uuid, a.expires_at, a.created_at
FROM activities a
JOIN users u ON u.uuid = a.user_uuid
WHERE a.expires_at IS NULL OR a.expires_at > now();

-- The replies of one crud, oldest first: the one place replies are gathered. A STABLE,
-- non-strict SQL function returning SETOF is inlined by the planner where it is called, so it
-- costs exactly the subquery it stands for (an index scan of activities_replies_idx).
CREATE FUNCTION activity_replies(parent uuid) RETURNS SETOF live_activities
LANGUAGE sql STABLE
AS $$
  SELECT r.* FROM live_activities r
  WHERE r.reply_to_activity_uuid = parent
  ORDER BY r.created_at, r.uuid
$$;

-- A row just written (from INSERT … RETURNING, which the view cannot see yet in the same
-- statement) in the view's shape. Inlined like activity_replies; the column list must stay the
-- view's, which the API's cross-route identity test checks.
CREATE FUNCTION activity_card(a activities) RETURNS SETOF live_activities
LANGUAGE sql STABLE
AS $$
  SELECT a.uuid, a.user_uuid, u.display_name, u.handle, a.message,
         a.replies_count, a.reposts_count, a.likes_count,
         a.reply_to_activity_uuid, a.expires_at, a.created_at
  FROM users u
  WHERE u.uuid = a.user_uuid
$$;

-- replies_count is kept by the database: every insert, delete (including the cascade when a
-- user or a parent goes) and re-parenting of a reply adjusts its parent's count.
CREATE FUNCTION activities_count_replies() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.reply_to_activity_uuid IS NOT NULL THEN
    UPDATE activities SET replies_count = replies_count - 1
    WHERE uuid = OLD.reply_to_activity_uuid;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.reply_to_activity_uuid IS NOT NULL THEN
    UPDATE activities SET replies_count = replies_count + 1
    WHERE uuid = NEW.reply_to_activity_uuid;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER activities_count_replies_on_insert
  AFTER INSERT ON activities
  FOR EACH ROW WHEN (NEW.reply_to_activity_uuid IS NOT NULL)
  EXECUTE FUNCTION activities_count_replies();

CREATE TRIGGER activities_count_replies_on_delete
  AFTER DELETE ON activities
  FOR EACH ROW WHEN (OLD.reply_to_activity_uuid IS NOT NULL)
  EXECUTE FUNCTION activities_count_replies();

CREATE TRIGGER activities_count_replies_on_reparent
  AFTER UPDATE OF reply_to_activity_uuid ON activities
  FOR EACH ROW WHEN (OLD.reply_to_activity_uuid IS DISTINCT FROM NEW.reply_to_activity_uuid)
  EXECUTE FUNCTION activities_count_replies();

-- Counts written by hand before this migration may be wrong (a deleted user's replies were never
-- subtracted): recount once, touching only the rows that disagree.
UPDATE activities a
SET replies_count = actual.n
FROM (
  SELECT p.uuid, count(r.uuid)::integer AS n
  FROM activities p
  LEFT JOIN activities r ON r.reply_to_activity_uuid = p.uuid
  GROUP BY p.uuid
) actual
WHERE a.uuid = actual.uuid AND a.replies_count <> actual.n;
