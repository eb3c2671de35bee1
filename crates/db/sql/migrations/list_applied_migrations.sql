-- Applied migrations from refinery's history table, oldest first; no rows when the table does not
-- exist (checked by the caller with to_regclass first, so `status` never creates it).
SELECT version, name, applied_on FROM refinery_schema_history ORDER BY version
