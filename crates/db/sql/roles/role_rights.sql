-- The role's rights that an app role must not have, or NULL when it does not exist.
SELECT r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication OR r.rolbypassrls
       OR r.rolname = current_user
       OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relnamespace = 'public'::regnamespace)
       OR EXISTS (SELECT 1 FROM pg_database d WHERE d.datdba = r.oid AND d.datname = current_database())
  AS too_strong
FROM pg_roles r
WHERE r.rolname = $1::text
