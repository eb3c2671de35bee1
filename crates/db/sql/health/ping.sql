-- Health check: proves a pooled connection answers.
SELECT 1
