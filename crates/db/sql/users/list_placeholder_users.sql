-- Users still carrying a placeholder cognito_user_id (the seed's `MOCK-<handle>`), whose real
-- Cognito sub `cruddur cognito sync` fills in.
SELECT uuid, handle, email FROM users WHERE cognito_user_id LIKE 'MOCK%' ORDER BY handle
