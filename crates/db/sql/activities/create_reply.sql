-- Replies to the unexpired activity $1 as the user with handle $2; the reply expires with its
-- parent, and the parent's replies_count is kept by a trigger (migration V2). The parent is
-- locked FOR KEY SHARE: a delete of it in flight is waited for, and then the parent counts as
-- not found (404) instead of failing the insert's foreign key.
-- Always one row: author_found and parent_found say what was missing; `activity` is NULL
-- unless the reply was written.
-- $1: parent uuid, $2: author handle, $3: message.
WITH author AS (
  SELECT uuid FROM users WHERE lower(handle) = lower($2)
), parent AS (
  SELECT uuid, expires_at FROM live_activities WHERE uuid = $1 FOR KEY SHARE
), inserted AS (
  INSERT INTO activities (user_uuid, message, reply_to_activity_uuid, expires_at)
  SELECT author.uuid, $3, parent.uuid, parent.expires_at
  FROM author CROSS JOIN parent
  RETURNING activities AS row
)
SELECT EXISTS (SELECT 1 FROM author) AS author_found,
       EXISTS (SELECT 1 FROM parent) AS parent_found,
       c AS activity, '{}'::live_activities[] AS replies
FROM (SELECT 1) AS one
LEFT JOIN inserted i ON true
LEFT JOIN LATERAL activity_card(i.row) c ON true
