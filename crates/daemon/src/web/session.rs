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

/// Counts failed sign-ins.
#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Entries kept before expired ones are swept (a flood of names cannot grow it forever).
const LIMITER_SWEEP: usize = 10_000;

impl Limiter {
    fn keys(user: &str, ip: Option<IpAddr>) -> Vec<String> {
        let mut k = vec![format!("user:{}", user.to_lowercase())];
        if let Some(ip) = ip {
            k.push(format!("ip:{ip}"));
        }
        k
    }

    /// Whether a sign-in for `user` from `ip` is refused for now.
    pub fn blocked(&self, user: &str, ip: Option<IpAddr>, max: u32, window: Duration) -> bool {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::keys(user, ip).iter().any(|k| {
            map.get(k)
                .is_some_and(|(n, since)| *n >= max && since.elapsed() < window)
        })
    }

    /// Records a failed sign-in.
    pub fn failed(&self, user: &str, ip: Option<IpAddr>, window: Duration) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > LIMITER_SWEEP {
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        for k in Self::keys(user, ip) {
            let e = map.entry(k).or_insert((0, Instant::now()));
            if e.1.elapsed() >= window {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
    }

    /// Forgets the user's failures after a successful sign-in.
    pub fn succeeded(&self, user: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("user:{}", user.to_lowercase()));
    }
}

/// What a sign-in attempt came to.
pub enum SignIn {
    /// Signed in: the session token and its CSRF token.
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

/// Checks a password and starts a session; the attempt is audited either way.
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
    if state.limiter.blocked(&user, ip, max, window) {
        let store = state.store.clone();
        let u = user.clone();
        let _ = tokio::task::spawn_blocking(move || {
            store.audit(
                &crate::escape::line(&u),
                "login-refused",
                "",
                "",
                "too many failed sign-ins",
            )
        })
        .await;
        return Ok(SignIn::Limited);
    }
    let store = state.store.clone();
    let (u, p) = (user.clone(), password.to_string());
    let result =
        tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(Role, String, String)>> {
            let name_ok = crate::review::store::valid_user_name(&u).is_ok();
            match store.check_password(&u, &p)? {
                Some(role) if name_ok => {
                    let (token, csrf) = store.create_session(&u, ttl)?;
                    store.audit(&u, "login", "", "", "")?;
                    Ok(Some((role, token, csrf)))
                }
                _ => {
                    let shown = if name_ok {
                        u.clone()
                    } else {
                        "(invalid name)".into()
                    };
                    store.audit(&shown, "login-failed", "", "", "")?;
                    Ok(None)
                }
            }
        })
        .await??;
    Ok(match result {
        Some((role, token, csrf)) => {
            state.limiter.succeeded(&user);
            SignIn::Ok { token, csrf, role }
        }
        None => {
            state.limiter.failed(&user, ip, window);
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
            assert!(!l.blocked("Clerk", ip, 3, w));
            l.failed("Clerk", ip, w);
        }
        assert!(l.blocked("clerk", None, 3, w), "names are case-insensitive");
        assert!(
            l.blocked("someone-else", ip, 3, w),
            "the address is blocked too"
        );
        assert!(!l.blocked("someone-else", "192.0.2.2".parse().ok(), 3, w));
        l.succeeded("clerk");
        assert!(!l.blocked("clerk", None, 3, w));
        assert!(!l.blocked("x", ip, 3, Duration::ZERO), "the window passed");
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
