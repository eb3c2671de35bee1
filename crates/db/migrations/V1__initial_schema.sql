-- The Cruddur schema (SPEC §3): users and their activities ("cruds"), UUID keys made by Postgres.
-- Fixes of the original: reply_to_activity_uuid is uuid (was integer), timestamps carry a time
-- zone, counts can never be NULL, handles and Cognito ids are unique.

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE TABLE users (
  uuid            uuid        PRIMARY KEY DEFAULT uuid_generate_v4(),
  display_name    text        NOT NULL,
  handle          text        NOT NULL CONSTRAINT users_handle_key UNIQUE,
  email           text        NOT NULL,
  cognito_user_id text        NOT NULL CONSTRAINT users_cognito_user_id_key UNIQUE,
  bio             text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE activities (
  uuid                   uuid        PRIMARY KEY DEFAULT uuid_generate_v4(),
  user_uuid              uuid        NOT NULL
                                     CONSTRAINT activities_user_uuid_fkey REFERENCES users (uuid) ON DELETE CASCADE,
  message                text        NOT NULL,
  replies_count          integer     NOT NULL DEFAULT 0,
  reposts_count          integer     NOT NULL DEFAULT 0,
  likes_count            integer     NOT NULL DEFAULT 0,
  reply_to_activity_uuid uuid        CONSTRAINT activities_reply_to_activity_uuid_fkey
                                     REFERENCES activities (uuid) ON DELETE CASCADE,
  expires_at             timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now()
);

-- Home feed: top-level cruds newest first; the keyset cursor is (created_at, uuid).
CREATE INDEX activities_home_feed_idx
  ON activities (created_at DESC, uuid DESC)
  WHERE reply_to_activity_uuid IS NULL;

-- A user's page: their cruds newest first; also serves the foreign key to users.
CREATE INDEX activities_user_feed_idx
  ON activities (user_uuid, created_at DESC, uuid DESC);

-- Replies of one crud, oldest first; also serves the self-referencing foreign key.
CREATE INDEX activities_replies_idx
  ON activities (reply_to_activity_uuid, created_at, uuid)
  WHERE reply_to_activity_uuid IS NOT NULL;
