-- The shared key named $1, made from $2 when there is none yet. When two servers make it at
-- once, the second finds no row here (its snapshot predates the first's commit) and asks again.
WITH made AS (
  INSERT INTO server_keys (name, key) VALUES ($1, $2)
  ON CONFLICT (name) DO NOTHING
  RETURNING key
)
SELECT key FROM made
UNION ALL
SELECT key FROM server_keys WHERE name = $1
LIMIT 1
