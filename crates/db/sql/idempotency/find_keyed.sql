-- What the author with handle $1 made under key $2 in the last 24 hours: the request's
-- fingerprint and the crud or reply, as written (expired or not; NULL once purged). No row: no
-- such use.
SELECT k.request, c AS activity, '{}'::live_activities[] AS replies
FROM idempotency_keys k
JOIN users u ON u.uuid = k.user_uuid
LEFT JOIN activities a ON a.uuid = k.activity_uuid
LEFT JOIN LATERAL activity_card(a) c ON true
WHERE lower(u.handle) = lower($1)
  AND k.key = $2
  AND k.created_at > now() - interval '24 hours'
