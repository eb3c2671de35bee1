-- $1 demo cruds spread round-robin over the demo users, one second apart going back from now,
-- all expiring in 30 days. Set-based: one statement whatever $1 is.
-- $1: number of cruds (bigint)
WITH authors AS (
  SELECT array_agg(uuid ORDER BY handle) AS ids
  FROM users
  WHERE handle LIKE 'demo%' AND cognito_user_id LIKE 'MOCK-demo%'
)
INSERT INTO activities (user_uuid, message, expires_at, created_at)
SELECT authors.ids[1 + (n % cardinality(authors.ids))],
       'Demo crud #' || n || ': cruds expire, so say it while it matters.',
       now() + interval '30 days',
       now() - n * interval '1 second'
FROM authors, generate_series(1, $1::bigint) AS n
WHERE cardinality(authors.ids) > 0
