-- A user's page reads only that user's top-level cruds. activities_user_feed_idx (V1) holds
-- their replies too, so a user who had written 20,000 replies made every view of their page walk
-- all of them, for the page and again for cruds_count. This index holds top-level cruds only;
-- expires_at is carried so the count can be answered from the index. The V1 index stays: it
-- serves the foreign key to users (deleting a user finds their replies through it).
CREATE INDEX activities_user_cruds_idx
  ON activities (user_uuid, created_at DESC, uuid DESC) INCLUDE (expires_at)
  WHERE reply_to_activity_uuid IS NULL;
