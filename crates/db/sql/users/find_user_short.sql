-- The short form of a user (for the frontend's user cards). $1: handle. No row when unknown.
SELECT uuid, handle, display_name FROM users WHERE handle = $1
