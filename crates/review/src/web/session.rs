//! Sign-in and sessions: the session cookie (HttpOnly, SameSite=Strict, Secure under
//! TLS), the per-session CSRF token every state-changing request must send back (a form
//! field, or the `X-CSRF-Token` header for the API), and the sign-in rate limit (failed
//! attempts per user name and per client address within a window).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap};

use super::state::WebState;
use crate::store::{same_secret, Role, Session};
use crate::Actor;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "palisade_session";
/// The cookie carrying the sign-in form's CSRF token (before there is a session).
pub(crate) const LOGIN_COOKIE: &str = "palisade_login";

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
    pub(crate) fn csrf_ok(&self, sent: Option<&str>) -> bool {
        sent.is_some_and(|s| same_secret(s, &self.csrf))
    }
}

/// A cookie's value from the request (the `cookie` crate reads the header; a malformed
/// pair is skipped, as browsers do).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<Duration>,
    secure: bool,
) -> String {
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
pub(crate) fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", Some(Duration::ZERO), secure)
}

/// The signed-in user, if the request carries a live session.
pub(crate) async fn viewer(state: &Arc<WebState>, headers: &HeaderMap) -> Option<Viewer> {
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

/// What a sign-in attempt came to.
pub(crate) enum SignIn {
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
pub(crate) async fn sign_in(
    state: &Arc<WebState>,
    user: &str,
    password: &str,
    ip: Option<IpAddr>,
) -> anyhow::Result<SignIn> {
    let (max, window, ttl) = {
        let live = state.live();
        let w = &live.config().web;
        (w.login_attempts, w.login_window, w.session_ttl)
    };
    let user = user.trim().to_string();
    let count = |result: &str| state.metrics.logins.with_label_values(&[result]).inc();
    if crate::store::valid_user_name(&user).is_err() || password.len() > 1024 {
        count("failure");
        // No such account can exist: nothing to check, nothing to record.
        return Ok(SignIn::Denied);
    }
    // Loopback clients are SSH tunnels and local TLS proxies: their address stands for
    // everyone behind them, so only the per-user count applies.
    let ip = ip.filter(|a| !a.to_canonical().is_loopback());
    if !state.limiter.begin(&user, ip, max, window) {
        tracing::warn!(user = %palisade_report::escape::Safe(&user), client = ?ip, "sign-in refused: too many failed attempts");
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
                        tracing::info!(user = %palisade_report::escape::Safe(&u), "sign-in for an unknown user");
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
pub(crate) async fn sign_out(state: &Arc<WebState>, viewer: &Viewer) -> anyhow::Result<()> {
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
    fn cookies_parse_and_carry_their_flags() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; palisade_session=abc; b=2".parse().expect("header"),
        );
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(COOKIE, "t", None, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        assert!(!set_cookie(COOKIE, "t", None, false).contains("Secure"));
    }
}
