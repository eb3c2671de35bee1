-- Builds CREATE DATABASE with the name quoted by Postgres itself (identifiers cannot be bound).
-- $1: database name. Returns the statement to execute.
SELECT format('CREATE DATABASE %I', $1::text)
