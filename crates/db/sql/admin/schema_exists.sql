-- Whether the Cruddur tables exist yet.
SELECT to_regclass('users') IS NOT NULL AND to_regclass('activities') IS NOT NULL
