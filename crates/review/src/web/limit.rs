//! The sign-in rate limit: failed attempts per user name and per client address within
//! a window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts sign-in attempts that did not succeed, per user name and per client address
/// (IPv6 by /64: one host has a whole prefix).
#[derive(Default)]
pub(crate) struct Limiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Entries kept. Past it, expired ones go; if the table is still full, sign-ins are
/// refused until entries expire (a flood of names and addresses must not wipe the
/// counts it is meant to keep).
const LIMITER_CAP: usize = 100_000;

impl Limiter {
    fn keys(user: &str, ip: Option<IpAddr>) -> Vec<String> {
        let mut k = vec![format!("user:{}", user.to_lowercase())];
        match ip {
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let s = v6.segments();
                k.push(format!(
                    "ip:{:x}:{:x}:{:x}:{:x}::/64",
                    s[0], s[1], s[2], s[3]
                ));
            }
            Some(ip) => k.push(format!("ip:{}", ip.to_canonical())),
            None => {}
        }
        k
    }

    /// Counts an attempt before the password is checked (so parallel guesses count
    /// too); false when the user or the address is over the limit for now.
    pub(crate) fn begin(&self, user: &str, ip: Option<IpAddr>, max: u32, window: Duration) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let keys = Self::keys(user, ip);
        let blocked = keys.iter().any(|k| {
            map.get(k)
                .is_some_and(|(n, since)| *n >= max && since.elapsed() < window)
        });
        if blocked {
            return false;
        }
        if map.len() >= LIMITER_CAP {
            map.retain(|_, (_, since)| since.elapsed() < window);
            if map.len() >= LIMITER_CAP {
                return false;
            }
        }
        for k in keys {
            let e = map.entry(k).or_insert((0, Instant::now()));
            if e.1.elapsed() >= window {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
        true
    }

    /// A successful sign-in: the user's count is cleared and the address's attempt
    /// given back (an office behind one address signs in many people).
    pub(crate) fn succeeded(&self, user: &str, ip: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let keys = Self::keys(user, ip);
        map.remove(&keys[0]);
        if let Some(k) = keys.get(1) {
            if let Some(e) = map.get_mut(k) {
                e.0 = e.0.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_per_user_and_address() {
        let l = Limiter::default();
        let ip: Option<IpAddr> = "192.0.2.1".parse().ok();
        let w = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.begin("Clerk", ip, 3, w));
        }
        assert!(!l.begin("clerk", None, 3, w), "names are case-insensitive");
        assert!(
            !l.begin("someone-else", ip, 3, w),
            "the address is blocked too"
        );
        assert!(l.begin("someone-else", "192.0.2.2".parse().ok(), 3, w));
        l.succeeded("clerk", None);
        assert!(l.begin("clerk", None, 3, w));
        assert!(l.begin("x", ip, 3, Duration::ZERO), "the window passed");
        // One IPv6 host, many addresses: one prefix.
        let a: Option<IpAddr> = "2001:db8:1:2::1".parse().ok();
        let b: Option<IpAddr> = "2001:db8:1:2:ffff::9".parse().ok();
        assert!(l.begin("u1", a, 2, w) && l.begin("u2", b, 2, w));
        assert!(!l.begin("u3", a, 2, w));
        // Successful sign-ins give the address its attempt back.
        let office: Option<IpAddr> = "198.51.100.7".parse().ok();
        for i in 0..10 {
            let u = format!("staff{i}");
            assert!(l.begin(&u, office, 3, w), "{u}");
            l.succeeded(&u, office);
        }
    }
}
