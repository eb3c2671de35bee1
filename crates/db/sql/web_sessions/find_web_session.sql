-- The live session whose id hashes to $1, with its user; no row when it never existed, has been
-- deleted (sign-out, purge) or has ended (idle or absolute expiry).
SELECT u.uuid, u.handle, u.display_name,
       s.access_token, s.access_expires_at, s.refresh_after, s.refresh_token,
       s.idle_until, s.expires_at, now() AS now
FROM web_sessions s
JOIN users u ON u.uuid = s.user_uuid
WHERE s.id_hash = $1 AND s.expires_at > now() AND s.idle_until > now()
