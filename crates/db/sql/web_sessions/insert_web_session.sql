-- Opens a session. $1: SHA-256 of the session id; $2: the user; $3: access token; $4: seconds it
-- is valid; $5: seconds until it is renewed ahead of use; $6: refresh token (nullable); $7: idle
-- timeout in seconds; $8: absolute lifetime in seconds.
INSERT INTO web_sessions
  (id_hash, user_uuid, access_token, access_expires_at, refresh_after, refresh_token,
   idle_until, expires_at)
VALUES
  ($1, $2, $3, now() + $4::bigint * interval '1 second', now() + $5::bigint * interval '1 second', $6,
   now() + least($7::bigint, $8::bigint) * interval '1 second', now() + $8::bigint * interval '1 second')
