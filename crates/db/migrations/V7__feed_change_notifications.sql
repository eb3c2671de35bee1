-- Every statement that may change what a feed page shows tells the servers' feed caches
-- (crates/api/src/feed_cache.rs), whoever ran it: another `cruddur serve`, the Lambda, psql.
-- One notification per statement, not per row; PostgreSQL also folds identical notifications of
-- one transaction into one, and delivers them only once the transaction commits.
-- Cards show the author's display_name and handle, so users' changes count too.
CREATE FUNCTION notify_feed_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_notify('cruddur_feed', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER activities_notify_feed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON activities
  FOR EACH STATEMENT EXECUTE FUNCTION notify_feed_changed();

CREATE TRIGGER users_notify_feed
  AFTER UPDATE OR DELETE OR TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION notify_feed_changed();
