//! Sign-in and sessions: the session cookie (HttpOnly, SameSite=Strict, Secure under
//! TLS), the per-session CSRF token every state-changing request must send back (a form
//! field, or the `X-CSRF-Token` header for the API), and the sign-in rate limit (failed
//! attempts per user name and per client address within a window).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};

use super::WebState;
use crate::review::store::{same_secret, Role, Session};
use crate::review::Actor;

/// The session cookie's name.
pub const COOKIE: &str = "palisade_session";
/// The cookie carrying the sign-in form's CSRF token (before there is a session).
pub const LOGIN_COOKIE: &str = "palisade_login";

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
    /// The session token (to end it).
    pub token: String,
}

impl Viewer {
    /// As the review service sees them.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.user.clone(),
            role: self.role,
        }
    }

    /// Whether `sent` is this session's CSRF token.
    pub fn csrf_ok(&self, sent: Option<&str>) -> bool {
        sent.is_some_and(|s| same_secret(s, &self.csrf))
    }
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value.
pub fn set_cookie(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The session cookie's deletion.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", Some(Duration::ZERO), secure)
}

/// The signed-in user, if the request carries a live session.
pub async fn viewer(state: &Arc<WebState>, headers: &HeaderMap) -> Option<Viewer> {
    let token = cookie(headers, COOKIE)?.to_string();
    let store = state.store.clone();
    let t = token.clone();
    let session: Option<Session> = tokio::task::spawn_blocking(move || store.session(&t))
        .await
        .ok()?
        .ok()?;
    session.map(|s| Viewer {
        user: s.user,
        role: s.role,
        csrf: s.csrf,
        token,
    })
}

/// Counts sign-in attempts that did not succeed, per user name and per client address
/// (IPv6 by /64: one host has a whole prefix).
#[derive(Default)]
pub struct Limiter {
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
    pub fn begin(&self, user: &str, ip: Option<IpAddr>, max: u32, window: Duration) -> bool {
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
    pub fn succeeded(&self, user: &str, ip: Option<IpAddr>) {
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

/// What a sign-in attempt came to.
pub enum SignIn {
    /// Signed in.
    Ok {
        /// The session token (the cookie's value).
        token: String,
        /// The session's CSRF token.
        csrf: String,
        /// The user's role.
        role: Role,
    },
    /// Wrong name or password.
    Denied,
    /// Too many failures: try again later.
    Limited,
}

/// Checks a password and starts a session; the attempt is audited (refusals by the
/// rate limit are only logged: they cost an attacker nothing and must not fill the
/// append-only audit log).
pub async fn sign_in(
    state: &Arc<WebState>,
    user: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> anyhow::Result<SignIn> {
    let (max, window, ttl) = {
        let live = state.shared.live.load();
        let w = &live.config.web;
        (w.login_attempts, w.login_window, w.session_ttl)
    };
    let user = user.trim().to_string();
    let count = |result: &str| {
        state
            .shared
            .metrics
            .review_logins
            .with_label_values(&[result])
            .inc()
    };
    if crate::review::store::valid_user_name(&user).is_err() || password.len() > 1024 {
        count("failure");
        // No such account can exist: nothing to check, nothing to record.
        return Ok(SignIn::Denied);
    }
    // Loopback clients are SSH tunnels and local TLS proxies: their address stands for
    // everyone behind them, so only the per-user count applies.
    let ip = ip.filter(|a| !a.to_canonical().is_loopback());
    if !state.limiter.begin(&user, ip, max, window) {
        tracing::warn!(user = %crate::escape::Safe(&user), client = ?ip, "sign-in refused: too many failed attempts");
        count("limited");
        return Ok(SignIn::Limited);
    }
    // Password hashing is deliberately slow: a few at a time, so a flood of sign-ins
    // cannot take the blocking threads large scans use.
    let _permit = state.passwords.acquire().await?;
    let store = state.store.clone();
    let (u, p) = (user.clone(), password.to_string());
    let result =
        tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(Role, String, String)>> {
            match store.check_password(&u, &p)? {
                Some(role) => {
                    let (token, csrf) = store.create_session(&u, ttl)?;
                    store.audit(&u, "login", "", "", "")?;
                    Ok(Some((role, token, csrf)))
                }
                None => {
                    // Failures for real accounts are evidence; guesses at names that
                    // do not exist would only fill the append-only log.
                    if store.user_exists(&u)? {
                        store.audit(&u, "login-failed", "", "", "")?;
                    } else {
                        tracing::info!(user = %crate::escape::Safe(&u), "sign-in for an unknown user");
                    }
                    Ok(None)
                }
            }
        })
        .await??;
    Ok(match result {
        Some((role, token, csrf)) => {
            state.limiter.succeeded(&user, ip);
            count("success");
            SignIn::Ok { token, csrf, role }
        }
        None => {
            count("failure");
            SignIn::Denied
        }
    })
}

/// Ends a session (audited).
pub async fn sign_out(state: &Arc<WebState>, viewer: &Viewer) -> anyhow::Result<()> {
    let store = state.store.clone();
    let (token, user) = (viewer.token.clone(), viewer.user.clone());
    tokio::task::spawn_blocking(move || {
        store.end_session(&token)?;
        store.audit(&user, "logout", "", "", "")?;
        Ok::<_, anyhow::Error>(())
    })
    .await??;
    Ok(())
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

    #[test]
    fn cookies_parse_and_carry_their_flags() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; palisade_session=abc; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(COOKIE, "t", None, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        assert!(!set_cookie(COOKIE, "t", None, false).contains("Secure"));
    }
}
