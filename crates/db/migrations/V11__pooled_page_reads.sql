-- The page reads as PL/pgSQL functions, for servers behind a transaction pooler (PgBouncer in
-- transaction mode, RDS Proxy: DB_POOLER=transaction). There a statement cannot stay prepared
-- (the next transaction may get another server session), so each read was sent unnamed and
-- planned on every execution: the feed through PgBouncer cost PostgreSQL 921 µs per request
-- instead of 277 (bench/results/20261202T054818Z-scale.md). A PL/pgSQL function keeps the plans of
-- its queries for the life of the server session whoever calls it, so a pooled server sends
-- `SELECT * FROM list_home_feed($1, $2)`, whose own plan is trivial, and the query inside runs
-- on a plan cached by the session (crates/db/src/statement.rs).
-- Each body is the statement file of crates/db/sql/ verbatim ($1… are the function's
-- parameters); a test checks that every function still holds its file's text. The plan settings
-- the service's sessions set (generic plans, no JIT: bench/README.md) are set on the functions
-- too: a pooler may not pass a session's startup options on.

CREATE FUNCTION list_home_feed(page_size bigint, replies_per_item bigint)
RETURNS TABLE (db_now timestamptz, activity live_activities, replies live_activities[])
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
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
LIMIT $1;
END
$fn$;

CREATE FUNCTION list_home_feed_before(page_size bigint, cursor_uuid uuid, replies_per_item bigint)
RETURNS TABLE (activity live_activities, replies live_activities[])
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
-- The home feed after a cursor: like list_home_feed, but only cruds older than the crud $2
-- (the last item of the previous page) in (created_at, uuid) order, so cruds posted meanwhile
-- neither shift nor repeat the next page. An unknown cursor gives an empty page.
-- $1: page size (bigint), $2: cursor crud uuid, $3: replies per item (bigint).
SELECT a AS activity, ARRAY(SELECT r FROM newest_replies(a.uuid, $3) r) AS replies
FROM live_activities a
WHERE a.reply_to_activity_uuid IS NULL
  AND (a.created_at, a.uuid) < (SELECT c.created_at, c.uuid FROM activities c WHERE c.uuid = $2)
ORDER BY a.created_at DESC, a.uuid DESC
LIMIT $1;
END
$fn$;

CREATE FUNCTION show_activity(author_handle text, activity_uuid uuid, page_size bigint)
RETURNS TABLE (activity live_activities, replies live_activities[])
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
-- The status page of one unexpired crud by @$1: the crud and the first $3 of its replies, oldest
-- first (activities_replies_idx, so the cost follows the page, not the thread). No row when the
-- handle/crud pair does not exist. $1: author handle, $2: crud uuid, $3: replies per page (bigint).
SELECT a AS activity, ARRAY(SELECT r FROM activity_replies(a.uuid) r LIMIT $3) AS replies
FROM live_activities a
WHERE a.uuid = $2
  AND lower(a.handle) = lower($1);
END
$fn$;

CREATE FUNCTION show_activity_after(author_handle text, activity_uuid uuid, page_size bigint, cursor_uuid uuid)
RETURNS TABLE (activity live_activities, replies live_activities[])
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
-- A later page of a status page's replies: like show_activity, but only replies after the reply
-- $4 (the last one of the previous page) in (created_at, uuid) order, so replies posted meanwhile
-- neither shift nor repeat a page. A cursor that is not a reply of this crud gives no replies.
-- $1: author handle, $2: crud uuid, $3: replies per page (bigint), $4: cursor reply uuid.
SELECT a AS activity, ARRAY(
         SELECT r FROM activity_replies(a.uuid) r
         WHERE (r.created_at, r.uuid) > (SELECT c.created_at, c.uuid FROM activities c
                                         WHERE c.uuid = $4 AND c.reply_to_activity_uuid = a.uuid)
         LIMIT $3) AS replies
FROM live_activities a
WHERE a.uuid = $2
  AND lower(a.handle) = lower($1);
END
$fn$;

CREATE FUNCTION show_user_page(user_handle text, page_size bigint, replies_per_item bigint)
RETURNS TABLE (uuid uuid, handle text, display_name text, bio text, cruds_count bigint, activity live_activities, replies live_activities[])
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
RETURN QUERY
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
ORDER BY page.created_at DESC, page.uuid DESC;
END
$fn$;
