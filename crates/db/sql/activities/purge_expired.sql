-- Deletes up to $1 (bigint) expired top-level cruds, earliest expiry first; their replies go with
-- them (ON DELETE CASCADE), and expired replies of live cruds stay until their crud goes, so a
-- live crud's replies_count does not change. Rows another transaction holds are left for the
-- next batch. Returns one row per crud deleted. Served by activities_expired_cruds_idx (V8).
WITH doomed AS (
  SELECT uuid FROM activities
  WHERE expires_at <= now() AND reply_to_activity_uuid IS NULL
  ORDER BY expires_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
DELETE FROM activities a
USING doomed d
WHERE a.uuid = d.uuid
RETURNING a.uuid
