-- Terminates every other session on a database. $1: database name. Returns one row per session.
SELECT pid, pg_terminate_backend(pid) AS terminated
FROM pg_stat_activity
WHERE datname = $1 AND pid <> pg_backend_pid()
