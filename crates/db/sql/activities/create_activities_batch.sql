-- Creates several cruds in one statement (concurrent POST /api/activities requests, gathered by
-- create_queue.rs) and returns each as a live_activities row after its position (`ord`, from 1)
-- in the input arrays; an input whose author handle is unknown gets no row and writes nothing.
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
  JOIN users u ON lower(u.handle) = lower(i.handle)
  ORDER BY i.ord
  RETURNING activities AS row
)
SELECT i.ord, c AS activity, '{}'::live_activities[] AS replies
FROM inserted a
JOIN input i ON i.uuid = (a.row).uuid
CROSS JOIN LATERAL activity_card(a.row) c
ORDER BY i.ord
