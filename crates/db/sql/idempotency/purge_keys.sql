-- Deletes up to $1 (bigint) idempotency keys older than 24 hours, oldest first (served by
-- idempotency_keys_created_idx). Returns one row per key deleted.
WITH doomed AS (
  SELECT user_uuid, key FROM idempotency_keys
  WHERE created_at <= now() - interval '24 hours'
  ORDER BY created_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
DELETE FROM idempotency_keys k
USING doomed d
WHERE k.user_uuid = d.user_uuid AND k.key = d.key
RETURNING k.key
