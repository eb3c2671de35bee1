//! The open connections, as the accept loop keeps them: how many each client address holds (a
//! cap per address, so one client cannot take every slot), and which may be closed to make
//! room when every slot is taken (those with no request in flight: idle keep-alive connections
//! and connections that have not sent a whole request yet — silent sockets give way first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client_address::per_subscriber;

/// How long after its last answer a connection is left alone by [`Registry::evict_one`].
const ANSWER_FLUSH: Duration = Duration::from_millis(250);

/// Requests in flight on one connection and when the last one finished (`None` before the
/// first: until then the connection is hyper's header-read timeout's to close).
#[derive(Debug)]
pub(crate) struct ConnectionUse {
    opened: Instant,
    in_flight: AtomicUsize,
    begun: AtomicBool,
    last_done: Mutex<Option<Instant>>,
}

/// A request in flight; its drop marks the connection idle from then on.
pub(crate) struct Busy(Arc<ConnectionUse>);

impl ConnectionUse {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            begun: AtomicBool::new(false),
            last_done: Mutex::new(None),
        }
    }

    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        self.begun.store(true, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(self))
    }

    fn last_done(&self) -> Option<Instant> {
        *self
            .last_done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn never_used(&self) -> bool {
        !self.begun.load(Ordering::SeqCst)
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// Whether the connection may be closed to make room: no request in flight, and none just
    /// answered (hyper may still be flushing that answer, which closing would cut).
    fn may_make_room(&self) -> bool {
        self.is_idle()
            && self
                .last_done()
                .is_none_or(|done| done.elapsed() >= ANSWER_FLUSH)
    }

    /// When the connection last did something: its last answer, or its opening.
    fn last_activity(&self) -> Instant {
        self.last_done().unwrap_or(self.opened)
    }

    /// With `by` set: resolves once the first request has been answered, or at `by` if none
    /// has begun by then. Never resolves without `by`.
    pub(crate) async fn first_request_settled(&self, by: Option<Instant>) {
        let Some(by) = by else {
            return std::future::pending().await;
        };
        loop {
            let begun = self.begun.load(Ordering::SeqCst);
            let answered = self.is_idle() && self.last_done().is_some();
            if (begun && answered) || (!begun && Instant::now() >= by) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Resolves once, after a first request, no request has been in flight for `idle`.
    pub(crate) async fn idle_for(&self, idle: Duration) {
        loop {
            let last_done = match self.last_done() {
                Some(at) if self.is_idle() => at,
                _ => {
                    tokio::time::sleep(idle).await;
                    continue;
                }
            };
            let deadline = last_done + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self
            .0
            .last_done
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Entry {
    activity: Arc<ConnectionUse>,
    evict: CancellationToken,
}

#[derive(Default)]
struct Open {
    per_address: HashMap<IpAddr, usize>,
    entries: HashMap<u64, Entry>,
    next_id: u64,
}

/// Every open connection of one server.
#[derive(Clone)]
pub(crate) struct Registry {
    open: Arc<Mutex<Open>>,
    per_address_cap: usize,
}

/// One admitted connection: its use, the token that asks it to make room, and its place in the
/// registry, given back on drop.
pub(crate) struct Ticket {
    registry: Registry,
    id: u64,
    address: IpAddr,
    pub(crate) activity: Arc<ConnectionUse>,
    pub(crate) evict: CancellationToken,
}

impl Registry {
    pub(crate) fn new(per_address_cap: usize) -> Self {
        Self {
            open: Arc::default(),
            per_address_cap,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `peer` (counted against its address at once), or `None` when
    /// its address holds the cap already. See [`Self::enlist`].
    pub(crate) fn admit(&self, peer: IpAddr) -> Option<Ticket> {
        let address = per_subscriber(peer);
        let mut open = self.lock();
        let held = open.per_address.entry(address).or_insert(0);
        if *held >= self.per_address_cap {
            return None;
        }
        *held += 1;
        let id = open.next_id;
        open.next_id += 1;
        let activity = Arc::new(ConnectionUse::new());
        let evict = CancellationToken::new();
        Some(Ticket {
            registry: self.clone(),
            id,
            address,
            activity,
            evict,
        })
    }

    /// Makes `ticket`'s connection one that may be asked to make room: once it holds a slot
    /// (one still waiting for a slot would otherwise be chosen to make room for itself).
    pub(crate) fn enlist(&self, ticket: &Ticket) {
        self.lock().entries.insert(
            ticket.id,
            Entry {
                activity: Arc::clone(&ticket.activity),
                evict: ticket.evict.clone(),
            },
        );
    }

    /// Asks the connection that has waited longest with no request in flight to close (at most
    /// one not yet asked); whether there was one.
    pub(crate) fn evict_one(&self) -> bool {
        let open = self.lock();
        let oldest = open
            .entries
            .values()
            .filter(|e| e.activity.may_make_room() && !e.evict.is_cancelled())
            .min_by_key(|e| e.activity.last_activity());
        match oldest {
            Some(entry) => {
                entry.evict.cancel();
                true
            }
            None => false,
        }
    }

    /// Connections open from `peer`'s address.
    #[cfg(test)]
    pub(crate) fn held_by(&self, peer: IpAddr) -> usize {
        self.lock()
            .per_address
            .get(&per_subscriber(peer))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.registry.lock();
        open.entries.remove(&self.id);
        if let Some(held) = open.per_address.get_mut(&self.address) {
            *held -= 1;
            if *held == 0 {
                open.per_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_cap_and_gets_slots_back_on_close() {
        let registry = Registry::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let first = registry.admit(a).unwrap();
        let _second = registry.admit(a).unwrap();
        assert!(registry.admit(a).is_none(), "a third from the same address");
        assert!(registry.admit("192.0.2.2".parse().unwrap()).is_some());
        let _v6 = registry.admit(same_64).unwrap();
        let _v6b = registry.admit("2001:db8:0:1::2".parse().unwrap()).unwrap();
        assert!(
            registry
                .admit("2001:db8:0:1:ffff::9".parse().unwrap())
                .is_none(),
            "the same /64"
        );
        drop(first);
        assert_eq!(registry.held_by(a), 1);
        assert!(registry.admit(a).is_some());
    }

    #[tokio::test]
    async fn the_longest_silent_connection_is_asked_to_make_room_never_a_busy_one() {
        let registry = Registry::new(10);
        let admitted = |address: &str| {
            let ticket = registry.admit(address.parse().unwrap()).unwrap();
            registry.enlist(&ticket);
            ticket
        };
        let waiting = registry.admit("192.0.2.9".parse().unwrap()).unwrap();
        let silent = admitted("192.0.2.1");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let busy = admitted("192.0.2.2");
        let _request = busy.activity.begin();
        let later = admitted("192.0.2.3");
        assert!(registry.evict_one());
        assert!(
            silent.evict.is_cancelled(),
            "the oldest idle one goes first"
        );
        assert!(!later.evict.is_cancelled());
        assert!(registry.evict_one());
        assert!(later.evict.is_cancelled());
        assert!(
            !registry.evict_one(),
            "only a busy one, and one waiting for a slot, are left"
        );
        assert!(!busy.evict.is_cancelled());
        assert!(
            !waiting.evict.is_cancelled(),
            "never asked to make room for itself"
        );
    }
}
