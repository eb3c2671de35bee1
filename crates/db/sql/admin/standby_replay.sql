-- How far a standby has replayed, as it says itself: whether it is in recovery, its replay
-- position, seconds since the last replayed commit (NULL before the first) and its WAL
-- receiver's status (NULL when none runs).
SELECT pg_is_in_recovery()                                                   AS in_recovery,
       pg_last_wal_replay_lsn()::text                                        AS replayed,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8   AS since_last_commit_secs,
       (SELECT status FROM pg_stat_wal_receiver)                             AS receiver
