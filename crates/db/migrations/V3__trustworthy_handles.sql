-- Handles people can trust: one alphabet, and unique regardless of case.
--
-- The alphabet (ASCII letters, digits and _, with . or - inside; at most 30 characters, the rule
-- of domain::Handle) is enforced for every new or changed row. NOT VALID: rows written before
-- this rule are not checked, and never changed here; `cruddur db status` lists them.
ALTER TABLE users ADD CONSTRAINT users_handle_format
  CHECK (handle ~ '^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$' AND char_length(handle) <= 30)
  NOT VALID;

-- Unique regardless of case: AndrewBrown cannot join beside andrewbrown. If such pairs already
-- exist the migration stops and names them, changing nothing; rename one of each, then migrate
-- again.
DO $$
DECLARE
  clashes text;
BEGIN
  SELECT string_agg(pair, '; ') INTO clashes
  FROM (
    SELECT string_agg(handle, ' / ' ORDER BY handle) AS pair
    FROM users
    GROUP BY lower(handle)
    HAVING count(*) > 1
  ) dup;
  IF clashes IS NOT NULL THEN
    RAISE EXCEPTION 'handles that differ only in case: %', clashes
      USING HINT = 'rename one handle of each pair, then run the migration again';
  END IF;
END
$$;

CREATE UNIQUE INDEX users_handle_lower_key ON users (lower(handle));
