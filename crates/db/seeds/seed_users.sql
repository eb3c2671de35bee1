-- The seed document's users. Idempotent: users that already exist are left alone.
-- The original gave both users cognito_user_id 'MOCK', which the UNIQUE constraint forbids;
-- each gets its own mock id instead.
INSERT INTO users (display_name, handle, email, cognito_user_id)
VALUES
  ('Andrew Brown', 'andrewbrown', 'andrewbrown@exampro.co', 'MOCK-andrewbrown'),
  ('Andrew Bayko', 'bayko',       'bayko@exampro.co',       'MOCK-bayko')
ON CONFLICT DO NOTHING
