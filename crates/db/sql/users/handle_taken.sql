-- Whether a handle is already held, regardless of case (users_handle_lower_key). $1: handle.
SELECT EXISTS (SELECT 1 FROM users WHERE lower(handle) = lower($1)) AS taken
