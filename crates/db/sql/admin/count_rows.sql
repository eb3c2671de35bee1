-- Row counts of the Cruddur tables (call only after the schema is migrated).
SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM activities) AS activities
