-- Users a crud can be posted as, for the web page's author picker in dev mode: handle order,
-- at most $1 of them (the picker is bounded whatever the table holds).
SELECT uuid, handle, display_name FROM users ORDER BY lower(handle) LIMIT $1
