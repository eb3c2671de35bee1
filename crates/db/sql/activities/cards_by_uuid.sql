-- The cruds with the given uuids as live_activities rows, after their position (`ord`, from 1)
-- in $1 (uuid[]); a uuid not written gets no row. Used to settle creates whose answer was lost
-- (create_queue.rs); they are new, so they have no replies yet.
SELECT u.ord, c AS activity, '{}'::live_activities[] AS replies
FROM unnest($1::uuid[]) WITH ORDINALITY AS u(uuid, ord)
JOIN activities a ON a.uuid = u.uuid
CROSS JOIN LATERAL activity_card(a) c
ORDER BY u.ord
