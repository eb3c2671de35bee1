-- Expired cruds are never shown, but stayed in the table for ever, so every scan that filters
-- on expiry (the feed, a user's page) grew with history. `cruddur db purge` deletes them in
-- bounded batches, earliest expiry first, replies going with their crud (ON DELETE CASCADE);
-- this index finds them without reading the live rows.
CREATE INDEX activities_expired_cruds_idx ON activities (expires_at)
  WHERE expires_at IS NOT NULL AND reply_to_activity_uuid IS NULL;
