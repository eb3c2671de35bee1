-- The short form of a user (for the frontend's user cards). $1: handle, matched without regard to
-- case like every handle lookup (handles are unique that way: users_handle_lower_key). No row when
-- unknown.
SELECT uuid, handle, display_name FROM users WHERE lower(handle) = lower($1)
