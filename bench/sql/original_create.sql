-- The original create: insert, then re-select the row as JSON (two statements).
\set n random(1, 10)
INSERT INTO public.activities (user_uuid, message, expires_at)
VALUES ((SELECT uuid FROM public.users WHERE users.handle = 'demo' || :n LIMIT 1),
        'pgbench crud', now() + interval '1 day') RETURNING uuid AS new_uuid \gset
SELECT COALESCE(row_to_json(object_row),'{}'::json) FROM (
  SELECT activities.uuid, users.display_name, users.handle, activities.message,
         activities.created_at, activities.expires_at
  FROM public.activities
  INNER JOIN public.users ON users.uuid = activities.user_uuid
  WHERE activities.uuid = :new_uuid::uuid
) object_row;
