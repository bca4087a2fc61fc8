//! Ports for servers under test (Postfix, unbound, redis-server, the daemon).
//!
//! A test picks a port and a program binds it later, sometimes seconds later. A port the
//! kernel hands out (`bind` to port 0) comes from the ephemeral range, the same range
//! every outgoing connection and every other test's `bind(0)` draws from, so in that gap
//! another socket could take it. Ports handed out here come from below that range, which
//! the kernel never gives to `bind(0)` or `connect`; each is free over TCP and UDP when
//! picked, and none is handed out twice by one process. What can still collide is a
//! program that picks explicit ports itself: another process picking the same way (its
//! pick starts at a random offset), and DNS resolvers (hickory, unbound), which choose
//! random UDP source ports across the whole range for each query. That is rare, and the
//! servers that bind over UDP are started through `on_free_port`, which tries again.
//!
//! Used by the daemon crate's own tests too (through `#[path]`): std only.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;

/// Lowest port handed out: above the registered services most machines run.
const FLOOR: u16 = 10_000;

/// A loopback port nobody listens on over TCP or UDP right now, outside the kernel's
/// ephemeral range, never returned before by this process.
pub fn free_port() -> std::io::Result<u16> {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let (low, high) = candidates();
    let offset = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    match pick(low, high, offset, given.get_or_insert_with(HashSet::new)) {
        Some(port) => Ok(port),
        // Everything below the ephemeral range is taken or given: let the kernel pick.
        None => Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()),
    }
}

/// The first port from `offset` on (wrapping within `low..=high`) that is neither in
/// `given` nor bound over TCP or UDP; it is added to `given`.
fn pick(low: u16, high: u16, offset: u64, given: &mut HashSet<u16>) -> Option<u16> {
    let span = u32::from(high - low) + 1;
    let offset = (offset % u64::from(span)) as u32;
    (0..span)
        .map(|i| low + ((offset + i) % span) as u16)
        .find(|port| {
            !given.contains(port)
                && TcpListener::bind(("127.0.0.1", *port)).is_ok()
                && UdpSocket::bind(("127.0.0.1", *port)).is_ok()
        })
        .inspect(|port| {
            given.insert(*port);
        })
}

/// The ports to pick from: from [`FLOOR`] to just below the ephemeral range.
fn candidates() -> (u16, u16) {
    let low_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if low_ephemeral > FLOOR + 1_000 {
        (FLOOR, low_ephemeral - 1)
    } else {
        // A machine whose ephemeral range starts low: above its usual end, then (still
        // inside the range DNS resolvers draw source ports from, as all of it is).
        (61_000, 65_000)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// Tests that bind ports of the range themselves, or start servers that do (the DNS
    /// server tests), take this lock: one at a time, so none binds a port another picked.
    pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn ports_are_distinct_free_and_outside_the_ephemeral_range() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (low, high) = candidates();
        // Each port is bound as soon as it is handed out, and held. Another process may
        // still take one in between (a resolver's random UDP source port anywhere on the
        // machine: the residual risk the module's comment names), so a few misses are
        // allowed; a picker that handed out ports in use would miss most of them.
        let mut held = Vec::new();
        let mut taken = Vec::new();
        let mut ports = HashSet::new();
        for _ in 0..64 {
            let p = free_port().unwrap();
            assert!(ports.insert(p), "{p} was handed out twice");
            assert!((low..=high).contains(&p), "{p} outside {low}..={high}");
            match (
                TcpListener::bind(("127.0.0.1", p)),
                UdpSocket::bind(("127.0.0.1", p)),
            ) {
                (Ok(t), Ok(u)) => held.push((t, u)),
                (t, u) => taken.push((p, t.err(), u.err())),
            }
        }
        assert!(taken.len() <= 2, "handed out but taken: {taken:?}");
    }

    #[test]
    fn ports_in_use_or_given_are_stepped_over_until_none_is_left() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // Ten ports of the range, a few of them in use over TCP or over UDP only.
        let (low, high) = candidates();
        let base = (low..high - 10)
            .find(|&b| {
                (b..b + 10).all(|p| {
                    TcpListener::bind(("127.0.0.1", p)).is_ok()
                        && UdpSocket::bind(("127.0.0.1", p)).is_ok()
                })
            })
            .unwrap();
        let tcp: Vec<TcpListener> = [base, base + 3, base + 9]
            .iter()
            .map(|&p| TcpListener::bind(("127.0.0.1", p)).unwrap())
            .collect();
        let udp = UdpSocket::bind(("127.0.0.1", base + 5)).unwrap();
        let mut given = HashSet::from([base + 7]);
        let mut got: Vec<u16> =
            std::iter::from_fn(|| pick(base, base + 9, 8, &mut given)).collect();
        got.sort_unstable();
        assert_eq!(got, [base + 1, base + 2, base + 4, base + 6, base + 8]);
        drop((tcp, udp));
    }
}
