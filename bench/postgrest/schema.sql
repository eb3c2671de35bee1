-- PostgREST over the same tables: the feed as a view, create as a function (schema `api`).
CREATE SCHEMA IF NOT EXISTS api;

CREATE OR REPLACE VIEW api.home AS
SELECT activities.uuid, users.display_name, users.handle, activities.message,
       activities.replies_count, activities.reposts_count, activities.likes_count,
       activities.reply_to_activity_uuid, activities.expires_at, activities.created_at
FROM public.activities
JOIN public.users ON users.uuid = activities.user_uuid
WHERE activities.reply_to_activity_uuid IS NULL
  AND (activities.expires_at IS NULL OR activities.expires_at > now())
ORDER BY activities.created_at DESC, activities.uuid DESC;

CREATE OR REPLACE FUNCTION api.create_activity(message text, ttl text, user_handle text)
RETURNS json LANGUAGE sql AS $$
  WITH author AS (SELECT uuid, display_name, handle FROM public.users WHERE handle = user_handle),
  inserted AS (
    INSERT INTO public.activities (user_uuid, message, expires_at)
    SELECT author.uuid, message, now() + CASE ttl
        WHEN '30-days' THEN interval '30 days' WHEN '7-days' THEN interval '7 days'
        WHEN '3-days' THEN interval '3 days' WHEN '1-day' THEN interval '1 day'
        WHEN '12-hours' THEN interval '12 hours' WHEN '3-hours' THEN interval '3 hours'
        ELSE interval '1 hour' END
    FROM author
    RETURNING uuid, message, replies_count, reposts_count, likes_count,
              reply_to_activity_uuid, expires_at, created_at
  )
  SELECT row_to_json(x) FROM (
    SELECT i.uuid, author.display_name, author.handle, i.message, i.replies_count,
           i.reposts_count, i.likes_count, i.reply_to_activity_uuid, i.expires_at, i.created_at
    FROM inserted i CROSS JOIN author) x
$$;

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'web_anon') THEN
    CREATE ROLE web_anon NOLOGIN;
  END IF;
END $$;
GRANT USAGE ON SCHEMA api TO web_anon;
GRANT SELECT ON api.home TO web_anon;
GRANT EXECUTE ON FUNCTION api.create_activity(text, text, text) TO web_anon;
GRANT SELECT, INSERT ON public.activities, public.users TO web_anon;
