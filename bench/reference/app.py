"""The original stack, for comparison: Flask + psycopg_pool serving the seed's two endpoints
with the seed's SQL (JSON built by Postgres with row_to_json/array_to_json).

Written from the seed document; the only change is LIMIT 20 on the feed (the
original returned the whole table, which makes it incomparable past a few thousand rows).
Run under gunicorn (sync workers), as script/bench does.
"""

import os
from datetime import datetime, timedelta, timezone

from flask import Flask, request
from psycopg_pool import ConnectionPool

pool = ConnectionPool(os.environ["CONNECTION_URL"], min_size=1, max_size=4, open=True)
app = Flask(__name__)


def query_wrap_object(template):
    return f"""
  (SELECT COALESCE(row_to_json(object_row),'{{}}'::json) FROM (
  {template}
  ) object_row);
  """


def query_wrap_array(template):
    return f"""
  (SELECT COALESCE(array_to_json(array_agg(row_to_json(array_row))),'[]'::json) FROM (
  {template}
  ) array_row);
  """


HOME_SQL = query_wrap_array("""
    SELECT
      activities.uuid,
      users.display_name,
      users.handle,
      activities.message,
      activities.replies_count,
      activities.reposts_count,
      activities.likes_count,
      activities.reply_to_activity_uuid,
      activities.expires_at,
      activities.created_at
    FROM public.activities
    LEFT JOIN public.users ON users.uuid = activities.user_uuid
    ORDER BY activities.created_at DESC
    LIMIT 20
""")

CREATE_SQL = """
    INSERT INTO public.activities (user_uuid, message, expires_at)
    VALUES (
      (SELECT uuid FROM public.users WHERE users.handle = %(handle)s LIMIT 1),
      %(message)s,
      %(expires_at)s
    ) RETURNING uuid;
"""

OBJECT_SQL = query_wrap_object("""
    SELECT
      activities.uuid,
      users.display_name,
      users.handle,
      activities.message,
      activities.created_at,
      activities.expires_at
    FROM public.activities
    INNER JOIN public.users ON users.uuid = activities.user_uuid
    WHERE activities.uuid = %(uuid)s
""")

TTLS = {
    "30-days": timedelta(days=30), "7-days": timedelta(days=7), "3-days": timedelta(days=3),
    "1-day": timedelta(days=1), "12-hours": timedelta(hours=12), "3-hours": timedelta(hours=3),
    "1-hour": timedelta(hours=1),
}


@app.route("/api/activities/home", methods=["GET"])
def home():
    with pool.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(HOME_SQL)
            return cur.fetchone()[0], 200


@app.route("/api/activities", methods=["POST"])
def create():
    body = request.json
    errors = []
    ttl = TTLS.get(body.get("ttl"))
    if ttl is None:
        errors.append("ttl_blank")
    handle = body.get("user_handle")
    if not handle:
        errors.append("user_handle_blank")
    message = body.get("message")
    if not message or len(message.strip()) < 1:
        errors.append("message_blank")
    elif len(message) > 280:
        errors.append("message_exceed_max_chars")
    if errors:
        return errors, 422
    expires_at = datetime.now(timezone.utc) + ttl
    with pool.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(CREATE_SQL, {"handle": handle, "message": message, "expires_at": expires_at})
            uuid = cur.fetchone()[0]
        conn.commit()
        with conn.cursor() as cur:
            cur.execute(OBJECT_SQL, {"uuid": uuid})
            return cur.fetchone()[0], 200
