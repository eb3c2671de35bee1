-- Creates several cruds in one statement (concurrent POST /api/activities requests, gathered by
-- create_queue.rs) and returns each in feed-item shape after its position (`ord`, from 1) in
-- the input arrays; an input whose author handle is unknown gets no row and writes nothing.
-- One statement means one transaction: all rows or none, one commit for the whole batch.
-- $1: author handles (text[]), $2: messages (text[]), $3: ttls in seconds (bigint[]); same length.
-- The uuids are made here (uuid_generate_v4, the column default) so that each inserted row can
-- be matched back to its input; MATERIALIZED makes both references see the same uuids.
WITH input AS MATERIALIZED (
  SELECT t.ord, t.handle, t.message, t.ttl, uuid_generate_v4() AS uuid
  FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS t(handle, message, ttl, ord)
), inserted AS (
  INSERT INTO activities (uuid, user_uuid, message, expires_at)
  SELECT i.uuid, u.uuid, i.message, now() + i.ttl * interval '1 second'
  FROM input i
  JOIN users u ON u.handle = i.handle
  ORDER BY i.ord
  RETURNING uuid, user_uuid, message, replies_count, reposts_count, likes_count,
            reply_to_activity_uuid, expires_at, created_at
)
SELECT i.ord, a.uuid, u.display_name, u.handle, a.message,
       a.replies_count, a.reposts_count, a.likes_count,
       a.reply_to_activity_uuid, a.expires_at, a.created_at,
       NULL::json AS replies
FROM inserted a
JOIN input i ON i.uuid = a.uuid
JOIN users u ON u.uuid = a.user_uuid
ORDER BY i.ord
