-- Handles written before migration V3 that break its rule (users_handle_format); never changed
-- automatically. $1: domain::HANDLE_PATTERN, $2: domain::MAX_HANDLE_CHARS: the CHECK's own terms
-- (tests/db/schema.rs proves the CHECK states them).
SELECT handle FROM users
WHERE NOT (handle ~ $1::text AND char_length(handle) <= $2::int)
ORDER BY handle
