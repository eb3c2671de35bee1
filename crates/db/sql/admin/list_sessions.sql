-- Client sessions like the seed's db-sessions, without our own. $1: database name, or NULL for all.
SELECT pid,
       usename::text          AS "user",
       datname::text          AS db,
       client_addr::text      AS client,
       application_name       AS app,
       state
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND ($1::text IS NULL OR datname = $1::text)
ORDER BY datname, pid
