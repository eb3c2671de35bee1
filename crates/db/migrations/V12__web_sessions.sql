-- Sign-in on the page (issue 27): people who signed in through the user pool's managed login.
-- The browser holds only a random session id (cookie `__Host-cruddur_session`); this table holds
-- its SHA-256, so reading the table gives nobody a cookie that works. The user's Cognito tokens
-- stay here, server-side: the access token (short-lived, what writes are verified with) and the
-- refresh token (long-lived: it renews the access token, and sign-out revokes it). They are not
-- encrypted at rest: the key would have to live beside them (this database) or in the server's
-- environment, next to the database's own password; the database's own protection (private
-- network, TLS, encrypted storage on RDS) is what guards them, as it guards every other row.
-- A session ends at whichever comes first: `expires_at` (absolute, fixed at sign-in) or
-- `idle_until` (moved forward while it is used). `cruddur db purge` deletes ended ones.
CREATE TABLE web_sessions (
  id_hash           bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
  user_uuid         uuid        NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
  access_token      text        NOT NULL,
  access_expires_at timestamptz NOT NULL,
  -- When the access token is renewed before use (ahead of its expiry).
  refresh_after     timestamptz NOT NULL,
  refresh_token     text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  idle_until        timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,
  CHECK (idle_until <= expires_at)
);

-- The purge finds ended sessions; deleting a user finds theirs.
CREATE INDEX web_sessions_ends_idx ON web_sessions (idle_until);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_uuid);

-- Keys every instance of the server shares (the sign-in cookie's HMAC key): made once, by the
-- first server that needs one, so a sign-in begun on one instance can end on another.
CREATE TABLE server_keys (
  name       text        PRIMARY KEY,
  key        bytea       NOT NULL CHECK (octet_length(key) >= 32),
  created_at timestamptz NOT NULL DEFAULT now()
);
