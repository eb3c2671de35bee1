-- The seed's own tables (its schema.sql: a primary key each, no other index, no foreign key, no
-- trigger), in a schema of their own beside ours, holding the same users and cruds: what the
-- original create statements are measured on. Our table carries the indexes the reads need, the
-- foreign keys and the feed-change trigger (migration V7), and each of those costs a write; the
-- original create is measured as the seed ran it, without them.
DROP SCHEMA IF EXISTS original CASCADE;
CREATE SCHEMA original;
CREATE TABLE original.users (
  uuid UUID DEFAULT uuid_generate_v4() PRIMARY KEY,
  display_name text,
  handle text,
  cognito_user_id text,
  created_at TIMESTAMP default current_timestamp NOT NULL
);
CREATE TABLE original.activities (
  uuid UUID DEFAULT uuid_generate_v4() PRIMARY KEY,
  user_uuid UUID NOT NULL,
  message text NOT NULL,
  replies_count integer DEFAULT 0,
  reposts_count integer DEFAULT 0,
  likes_count integer DEFAULT 0,
  reply_to_activity_uuid integer,
  expires_at TIMESTAMP,
  created_at TIMESTAMP default current_timestamp NOT NULL
);
INSERT INTO original.users (uuid, display_name, handle, cognito_user_id, created_at)
SELECT uuid, display_name, handle, cognito_user_id, created_at FROM public.users;
-- reply_to_activity_uuid is an integer in the seed and cannot hold a uuid: replies stay top-level.
INSERT INTO original.activities (uuid, user_uuid, message, replies_count, reposts_count,
                                 likes_count, expires_at, created_at)
SELECT uuid, user_uuid, message, replies_count, reposts_count, likes_count, expires_at, created_at
FROM public.activities;
