-- Sets the display name and bio of the user with handle $1 and returns their short form; no row
-- when there is no such user. $1: handle, $2: display_name, $3: bio (NULL clears it).
UPDATE users SET display_name = $2, bio = $3
WHERE lower(handle) = lower($1)
RETURNING uuid, handle, display_name
