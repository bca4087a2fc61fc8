//! Connection slots: a new connection is always accepted, no client holds more than its
//! share, and when every slot is taken the connection idle longest between messages is
//! closed to make room.
//!
//! Without this, sockets that connect and send nothing (or negotiate and go quiet) hold
//! every slot until `idle_timeout`, and Postfix's next connection waits in the backlog
//! until its milter timeout, tempfailing mail.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Why a connection was not given a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its client already holds `max_connections_per_client`.
    ClientLimit,
    /// No slot freed up within the wait.
    NoSlot,
}

/// One connection's standing, shared with the slot table.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Microseconds since the table's start at which it last went idle; 0 while busy.
    idle_since: AtomicU64,
    /// Whether option negotiation completed; those that never did go first.
    negotiated: AtomicBool,
    evicted: AtomicBool,
    close: Notify,
}

impl Conn {
    /// Waits until the slot table asks this connection to close.
    pub(crate) async fn evicted(&self) {
        loop {
            if self.evicted.load(Ordering::Acquire) {
                return;
            }
            self.close.notified().await;
        }
    }
}

#[derive(Default)]
struct Table {
    next_id: u64,
    conns: HashMap<u64, Arc<Conn>>,
    per_client: HashMap<IpAddr, usize>,
}

/// Every connection slot of one listener.
pub(crate) struct Slots {
    table: Mutex<Table>,
    permits: Arc<Semaphore>,
    max: usize,
    per_client: usize,
    start: Instant,
}

/// A held slot; dropping it frees the slot and forgets the connection.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    id: u64,
    ip: Option<IpAddr>,
    conn: Arc<Conn>,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// The connection's standing.
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// Records that the connection completed option negotiation: from now on it is
    /// evicted only after every connection that did not.
    pub(crate) fn set_negotiated(&self) {
        self.conn.negotiated.store(true, Ordering::Relaxed);
    }

    /// Marks the connection busy (inside a message) or idle (between messages).
    pub(crate) fn set_idle(&self, idle: bool) {
        let v = if idle {
            (self.slots.start.elapsed().as_micros() as u64).max(1)
        } else {
            0
        };
        // Idle since the first moment it went idle, not since the last packet.
        if idle && self.conn.idle_since.load(Ordering::Relaxed) != 0 {
            return;
        }
        self.conn.idle_since.store(v, Ordering::Relaxed);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.slots.lock();
        t.conns.remove(&self.id);
        if let Some(ip) = self.ip {
            if let Some(n) = t.per_client.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    t.per_client.remove(&ip);
                }
            }
        }
    }
}

impl Slots {
    /// `max` slots; `per_client` connections per client address at most (0 = no limit).
    pub(crate) fn new(max: usize, per_client: usize) -> Arc<Slots> {
        Arc::new(Slots {
            table: Mutex::new(Table::default()),
            permits: Arc::new(Semaphore::new(max)),
            max,
            per_client,
            start: Instant::now(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A poisoned lock only means a connection task panicked; the table is whole.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Slots taken now.
    pub(crate) fn in_use(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    /// Waits until every slot is free (all connections closed), at most `grace`;
    /// returns whether they all closed.
    pub(crate) async fn drain(&self, grace: Duration) -> bool {
        let all = u32::try_from(self.max).unwrap_or(u32::MAX);
        tokio::time::timeout(grace, self.permits.acquire_many(all))
            .await
            .is_ok()
    }

    /// A slot for a new connection from `ip`: at once when one is free; otherwise the
    /// longest-idle connection is asked to close and this one waits at most `wait`.
    /// The second value says whether another connection was evicted for it.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        wait: Duration,
    ) -> Result<(Slot, bool), Refused> {
        let (id, conn) = {
            let mut t = self.lock();
            if let Some(ip) = ip {
                let n = t.per_client.entry(ip).or_insert(0);
                if self.per_client > 0 && *n >= self.per_client {
                    return Err(Refused::ClientLimit);
                }
                *n += 1;
            }
            t.next_id += 1;
            (
                t.next_id,
                Arc::new(Conn {
                    idle_since: AtomicU64::new(0),
                    negotiated: AtomicBool::new(false),
                    evicted: AtomicBool::new(false),
                    close: Notify::new(),
                }),
            )
        };
        // Counted against its client from here on; released by Slot's drop, or below.
        let release_client = |slots: &Slots| {
            if let Some(ip) = ip {
                let mut t = slots.lock();
                if let Some(n) = t.per_client.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        t.per_client.remove(&ip);
                    }
                }
            }
        };
        let mut evicted = false;
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                evicted = self.evict_longest_idle();
                match tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        release_client(self);
                        return Err(Refused::NoSlot);
                    }
                }
            }
        };
        // Idle from the start: a socket that connects and says nothing is the first to
        // make room (and the negotiation timeout closes it anyway).
        conn.idle_since.store(
            (self.start.elapsed().as_micros() as u64).max(1),
            Ordering::Relaxed,
        );
        self.lock().conns.insert(id, conn.clone());
        Ok((
            Slot {
                slots: self.clone(),
                id,
                ip,
                conn,
                _permit: permit,
            },
            evicted,
        ))
    }

    /// Asks a connection to close: one that never negotiated, the oldest first; else the
    /// one idle longest between messages. False when every connection is inside a
    /// message.
    fn evict_longest_idle(&self) -> bool {
        let t = self.lock();
        let victim = t
            .conns
            .values()
            .filter(|c| !c.evicted.load(Ordering::Relaxed))
            .filter_map(|c| {
                let since = c.idle_since.load(Ordering::Relaxed);
                let negotiated = c.negotiated.load(Ordering::Relaxed);
                (since != 0).then_some(((negotiated, since), c))
            })
            .min_by_key(|(key, _)| *key)
            .map(|(_, c)| c.clone());
        drop(t);
        match victim {
            Some(c) => {
                c.evicted.store(true, Ordering::Release);
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_longest_idle_connection_makes_room() {
        let slots = Slots::new(2, 0);
        let (a, _) = slots.admit(None, Duration::ZERO).await.unwrap();
        let (b, _) = slots.admit(None, Duration::ZERO).await.unwrap();
        a.set_negotiated();
        b.set_negotiated();
        // Both had a message; `a` finished first, so it has been idle longer.
        a.set_idle(false);
        b.set_idle(false);
        a.set_idle(true);
        tokio::time::sleep(Duration::from_millis(5)).await;
        b.set_idle(true);
        let a_conn = a.conn().clone();
        let waiter = tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(5), a_conn.evicted())
                .await
                .expect("the idle-longest connection was not asked to close")
        });
        // The third connection evicts `a` (idle longer) and gets its slot once `a` goes.
        let slots2 = slots.clone();
        let third = tokio::spawn(async move { slots2.admit(None, Duration::from_secs(5)).await });
        waiter.await.unwrap();
        drop(a);
        let (c, evicted) = third.await.unwrap().unwrap();
        assert!(evicted);
        assert_eq!(slots.in_use(), 2);
        drop((b, c));
        assert_eq!(slots.in_use(), 0);
    }

    #[tokio::test]
    async fn a_socket_that_never_negotiated_goes_before_an_idle_session() {
        let slots = Slots::new(2, 0);
        let (session, _) = slots.admit(None, Duration::ZERO).await.unwrap();
        session.set_negotiated();
        session.set_idle(false);
        session.set_idle(true);
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Newer, but silent: it is the one to go.
        let (silent, _) = slots.admit(None, Duration::ZERO).await.unwrap();
        let silent_conn = silent.conn().clone();
        let slots2 = slots.clone();
        let third = tokio::spawn(async move { slots2.admit(None, Duration::from_secs(5)).await });
        tokio::time::timeout(Duration::from_secs(5), silent_conn.evicted())
            .await
            .expect("the silent socket was not asked to close");
        assert!(!session.conn().evicted.load(Ordering::Relaxed));
        drop(silent);
        assert!(third.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn busy_connections_are_not_evicted_and_clients_are_capped() {
        let slots = Slots::new(1, 0);
        let (a, _) = slots.admit(None, Duration::ZERO).await.unwrap();
        a.set_idle(false);
        let r = slots.admit(None, Duration::from_millis(20)).await;
        assert!(matches!(r, Err(Refused::NoSlot)));
        drop(a);

        let capped = Slots::new(8, 1);
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let (x, _) = capped.admit(Some(ip), Duration::ZERO).await.unwrap();
        let r = capped.admit(Some(ip), Duration::ZERO).await;
        assert!(matches!(r, Err(Refused::ClientLimit)));
        let other: IpAddr = "127.0.0.3".parse().unwrap();
        assert!(capped.admit(Some(other), Duration::ZERO).await.is_ok());
        drop(x);
        assert!(capped.admit(Some(ip), Duration::ZERO).await.is_ok());
    }
}
