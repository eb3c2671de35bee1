-- Handles written before migration V3 that break its rule (users_handle_format); never changed
-- automatically.
SELECT handle FROM users
WHERE NOT (handle ~ '^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$' AND char_length(handle) <= 30)
ORDER BY handle
