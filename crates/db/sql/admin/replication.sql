-- The standbys streaming from this server, as it sees them (pg_stat_replication). replay_lag is
-- NULL once a standby has replayed everything (PostgreSQL stops timing an idle link).
SELECT coalesce(nullif(application_name, ''), client_addr::text, 'local') AS name,
       state,
       (extract(epoch FROM replay_lag) * 1000)::float8                 AS replay_lag_ms,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8         AS unreplayed_bytes
FROM pg_stat_replication
ORDER BY name
