-- Whether migrations have run here (the grants name their history table).
SELECT to_regclass('public.refinery_schema_history') IS NOT NULL
