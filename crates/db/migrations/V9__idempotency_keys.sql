-- Idempotency keys (the IETF httpapi Idempotency-Key header, Stripe's convention): a create or
-- reply sent again with the same key by the same author answers the first result instead of
-- writing again, also when the first answer was lost after its commit. A key belongs to its
-- author and names the crud it made; it outlives that crud (a 1-hour crud is purged long before
-- its key expires: the key then answers that its write is gone, never writes again). `request` is
-- a SHA-256 of the request's fields, so the same key with another body is told apart. Keys older
-- than 24 hours count as unused and are deleted by `cruddur db purge`.
CREATE TABLE idempotency_keys (
  user_uuid     uuid        NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
  key           text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
  request       bytea       NOT NULL CHECK (octet_length(request) = 32),
  activity_uuid uuid        REFERENCES activities (uuid) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_uuid, key)
);

-- A purged crud finds its key without a scan; the purge finds old keys.
CREATE INDEX idempotency_keys_activity_idx ON idempotency_keys (activity_uuid);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
