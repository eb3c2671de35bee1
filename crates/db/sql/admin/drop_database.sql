-- Builds DROP DATABASE with the name quoted by Postgres; $2 adds WITH (FORCE), which ends open
-- sessions first (PostgreSQL 13+). $1: database name, $2: force (bool). Returns the statement.
SELECT format('DROP DATABASE IF EXISTS %I', $1::text) || CASE WHEN $2::bool THEN ' WITH (FORCE)' ELSE '' END
