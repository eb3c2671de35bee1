-- The seed document's crud, expiring 10 days after it is loaded. Idempotent: not added again
-- while andrewbrown already has it.
INSERT INTO activities (user_uuid, message, expires_at)
SELECT users.uuid, 'This was imported as seed data!', now() + interval '10 days'
FROM users
WHERE users.handle = 'andrewbrown'
  AND NOT EXISTS (
    SELECT 1 FROM activities
    WHERE activities.user_uuid = users.uuid
      AND activities.message = 'This was imported as seed data!'
  )
