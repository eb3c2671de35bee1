-- Creates several cruds in one statement (concurrent POST /api/activities requests, gathered by
-- create_queue.rs) and returns each as a live_activities row after its position (`ord`, from 1)
-- in the input arrays; an input whose author handle is unknown gets no row and writes nothing.
-- One statement means one transaction: all rows or none, one commit for the whole batch.
-- $1: author handles (text[]), $2: messages (text[]), $3: ttls in seconds (bigint[]),
-- $4: uuids (uuid[]), chosen by the caller before sending; all the same length. A uuid already
-- written (the same batch sent again after a lost answer) is skipped and returns no row.
WITH input AS (
  SELECT t.ord, t.handle, t.message, t.ttl, t.uuid
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[])
    WITH ORDINALITY AS t(handle, message, ttl, uuid, ord)
), inserted AS (
  INSERT INTO activities (uuid, user_uuid, message, expires_at)
  SELECT i.uuid, u.uuid, i.message, now() + i.ttl * interval '1 second'
  FROM input i
  JOIN users u ON lower(u.handle) = lower(i.handle)
  ORDER BY i.ord
  ON CONFLICT (uuid) DO NOTHING
  RETURNING activities AS row
)
SELECT i.ord, c AS activity, '{}'::live_activities[] AS replies
FROM inserted a
JOIN input i ON i.uuid = (a.row).uuid
CROSS JOIN LATERAL activity_card(a.row) c
ORDER BY i.ord
