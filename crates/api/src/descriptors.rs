//! File descriptors. Every connection holds one, and so does every pooled database session,
//! the listener, the feed's LISTEN session, a JWKS fetch and the log. The usual soft limit
//! (1,024) is below the default connection cap (2,048): past it `accept` fails with EMFILE and
//! so does everything else that opens a descriptor — a new database connection, a key fetch,
//! the feed listener's reconnect. So at start the soft limit is raised to the hard one, and the
//! connection cap lowered to what is left after what the service itself needs.

use db::DatabaseConfig;

/// Descriptors kept for the process itself besides its database sessions: standard streams,
/// the listener, the runtime's epoll and wakers, key fetches, the create queue's own
/// connection, log files, and room for error.
const FIXED_RESERVE: usize = 64;

/// Descriptors the service needs besides its client connections.
pub(crate) fn reserve_for(database: &DatabaseConfig) -> usize {
    // Each pool (the primary's and one per standby) and its health check, each standby's
    // watcher (a session on the standby and one on the primary), and the LISTEN session.
    let standbys = database.standbys.len();
    FIXED_RESERVE + (1 + standbys) * (database.pool.max_size + 1) + 2 * standbys + 1
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force
/// (`None` when it cannot be read).
pub(crate) fn raise_soft_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => Some(soft),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The connection cap that fits in `soft_limit` descriptors after `reserve`: `configured`, or
/// less (at least 1).
pub(crate) fn connections_within(configured: usize, soft_limit: u64, reserve: usize) -> usize {
    let available = usize::try_from(soft_limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(reserve)
        .max(1);
    configured.min(available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_what_the_limit_leaves_after_the_reserve() {
        assert_eq!(connections_within(2048, 1024, 100), 924);
        assert_eq!(connections_within(2048, 65_536, 100), 2048);
        assert_eq!(connections_within(2048, 50, 100), 1, "never zero");
        assert_eq!(connections_within(10, u64::MAX, 100), 10);
    }

    #[test]
    fn the_reserve_counts_every_pool() {
        let settings = db::DatabaseUrl::new("postgres://u@127.0.0.1/db")
            .parse()
            .unwrap();
        let mut config = DatabaseConfig::direct(settings.clone());
        config.pool.max_size = 10;
        assert_eq!(reserve_for(&config), 64 + 11 + 1);
        config.standbys = vec![settings.clone(), settings];
        assert_eq!(reserve_for(&config), 64 + 3 * 11 + 2 * 2 + 1);
    }
}
