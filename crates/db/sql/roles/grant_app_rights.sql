-- What the service does and nothing more: connect, read and write rows of the tables the
-- migrations made (and the ones they will make: default privileges of the role running this,
-- the owner), no DDL, and no writes to the migration history.
SELECT format(
  'GRANT CONNECT ON DATABASE %1$I TO %2$I;'
  ' GRANT USAGE ON SCHEMA public TO %2$I;'
  ' GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %2$I;'
  ' GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %2$I;'
  ' REVOKE INSERT, UPDATE, DELETE ON TABLE public.refinery_schema_history FROM %2$I;'
  ' REVOKE CREATE ON SCHEMA public FROM %2$I;'
  ' ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %2$I;'
  ' ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %2$I',
  current_database(), $1::text)
