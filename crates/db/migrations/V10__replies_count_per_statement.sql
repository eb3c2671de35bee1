-- replies_count kept per statement instead of per row. V2's row triggers updated a parent once
-- for every reply inserted or deleted, so N replies to one crud in one statement updated the same
-- row N times, each update walking the versions the previous ones left behind: O(N²) (20,000
-- replies in one INSERT took 22 s). A statement trigger sees all of the statement's rows at once
-- (its transition table) and updates each parent once, by its number of rows: O(N).
-- Re-parenting (an UPDATE of reply_to_activity_uuid, which the service never does) keeps V2's
-- row trigger: transition tables are not allowed on a trigger limited to a column.
DROP TRIGGER activities_count_replies_on_insert ON activities;
DROP TRIGGER activities_count_replies_on_delete ON activities;

-- One function for both triggers: each names its statement's rows `changed_rows` (the inserted
-- ones, or the deleted ones) and the operation gives the sign. A parent deleted by the same
-- statement (a user's cruds and replies going together, the cascade of a purged crud) is no
-- longer there to update: nothing to count.
CREATE FUNCTION activities_count_replies_per_statement() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  -- Most statements write top-level cruds only: leave before planning the update (measured:
  -- ~40 µs less per single-crud insert).
  IF NOT EXISTS (SELECT FROM changed_rows WHERE reply_to_activity_uuid IS NOT NULL) THEN
    RETURN NULL;
  END IF;
  UPDATE activities a
  SET replies_count = a.replies_count
                      + CASE TG_OP WHEN 'INSERT' THEN changed.n ELSE -changed.n END
  FROM (
    SELECT reply_to_activity_uuid AS parent, count(*)::integer AS n
    FROM changed_rows
    WHERE reply_to_activity_uuid IS NOT NULL
    GROUP BY reply_to_activity_uuid
  ) changed
  WHERE a.uuid = changed.parent;
  RETURN NULL;
END
$$;

CREATE TRIGGER activities_count_replies_on_insert
  AFTER INSERT ON activities
  REFERENCING NEW TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION activities_count_replies_per_statement();

CREATE TRIGGER activities_count_replies_on_delete
  AFTER DELETE ON activities
  REFERENCING OLD TABLE AS changed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION activities_count_replies_per_statement();
