-- Demo authors demo1 … demo$1 for `db seed --demo`. Idempotent per handle.
-- $1: number of demo users (int)
INSERT INTO users (display_name, handle, email, cognito_user_id)
SELECT 'Demo User ' || n, 'demo' || n, 'demo' || n || '@example.com', 'MOCK-demo' || n
FROM generate_series(1, $1::int) AS n
ON CONFLICT DO NOTHING
