-- Stores the tokens a refresh gave a live session. $2: access token; $3: seconds it is valid;
-- $4: seconds until it is renewed again; $5: a new refresh token, or null to keep the old one
-- (Cognito sends one only with refresh-token rotation on). Returns the row count.
UPDATE web_sessions
SET access_token = $2,
    access_expires_at = now() + $3::bigint * interval '1 second',
    refresh_after = now() + $4::bigint * interval '1 second',
    refresh_token = coalesce($5, refresh_token)
WHERE id_hash = $1 AND expires_at > now() AND idle_until > now()
