-- Expired cruds are never shown, but stayed in the table for ever, so every scan that filters
-- on expiry (the feed, a user's page) grew with history. `cruddur db purge` deletes them in
-- bounded batches, oldest expiry first; this index finds them without reading the live rows.
CREATE INDEX activities_expires_at_idx ON activities (expires_at)
  WHERE expires_at IS NOT NULL;
