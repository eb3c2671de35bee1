-- $2 is a SCRAM-SHA-256 verifier computed by the client: the password itself never reaches the
-- server, its logs or pg_stat_statements.
SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)
