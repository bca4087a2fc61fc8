//! What the pages share: the signed-in bar, error pages, forms, times, and how held
//! messages are listed, filtered and described.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::explain::{self, Band};
use crate::store::Role;
use crate::web::session::{self, Viewer};
use crate::web::state::WebState;
use crate::ReviewError;
use palisade_queue::Held;
use palisade_report::escape::line;

pub(crate) type St = State<Arc<WebState>>;

/// The signed-in bar.
pub struct Nav {
    pub(crate) user: String,
    pub(crate) role: String,
    pub(crate) csrf: String,
    pub(crate) admin: bool,
}

impl Nav {
    pub(crate) fn of(v: &Viewer) -> Option<Nav> {
        Some(Nav {
            user: v.user.clone(),
            role: v.role.to_string(),
            csrf: v.csrf.clone(),
            admin: v.role == Role::Admin,
        })
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    nav: Option<Nav>,
    heading: String,
    message: String,
    back: String,
}

pub(crate) fn html(status: StatusCode, t: impl Template) -> Response {
    match t.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

pub(crate) fn error_page(
    viewer: Option<&Viewer>,
    status: StatusCode,
    message: &str,
    back: &str,
) -> Response {
    let heading = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Cannot do that now",
        StatusCode::BAD_REQUEST => "Something is missing",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        _ => "Something went wrong",
    };
    html(
        status,
        ErrorPage {
            nav: viewer.and_then(Nav::of),
            heading: heading.into(),
            message: line(message).into_owned(),
            back: back.into(),
        },
    )
}

/// The status for a refused review action.
pub fn status_of(e: &ReviewError) -> StatusCode {
    match e {
        ReviewError::NotFound(_) => StatusCode::NOT_FOUND,
        ReviewError::Forbidden(_) => StatusCode::FORBIDDEN,
        ReviewError::Conflict(_) => StatusCode::CONFLICT,
        ReviewError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ReviewError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) fn review_error(viewer: &Viewer, e: &ReviewError, back: &str) -> Response {
    if let ReviewError::Internal(err) = e {
        tracing::error!(error = %format!("{err:#}"), "review action failed");
    }
    error_page(Some(viewer), status_of(e), &e.to_string(), back)
}

pub use crate::web::state::blocking;

/// A time as `2026-11-30 02:15 EST`: in the system's time zone (`TZ`, else
/// /etc/localtime), with the zone's name.
pub fn show_time(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_default()
}

/// An audit log time (RFC 3339 UTC) shown as [`show_time`] does.
pub(crate) fn show_stamp(stamp: &str) -> String {
    stamp
        .parse::<jiff::Timestamp>()
        .map(|t| show_time(t.as_second()))
        .unwrap_or_else(|_| stamp.to_string())
}

/// The start of a day (`YYYY-MM-DD`) in the system's time zone, as the audit log writes
/// times; `None` when it is not a date.
pub(crate) fn day_start(date: &str, days_after: i64) -> Option<String> {
    let d: jiff::civil::Date = date.trim().parse().ok()?;
    let d = d.checked_add(jiff::Span::new().days(days_after)).ok()?;
    let t = d.to_zoned(jiff::tz::TimeZone::system()).ok()?.timestamp();
    Some(palisade_config::clock::format_time(t.as_second()))
}

/// Form fields (repeated names kept, in order).
pub(crate) fn form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub(crate) fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The signed-in user of a page, as an extractor: anyone else is sent to the sign-in
/// page, which brings them back here afterwards.
pub(crate) struct SignedIn(pub(crate) Viewer);

impl FromRequestParts<Arc<WebState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<WebState>,
    ) -> Result<SignedIn, Response> {
        match session::viewer(state, &parts.headers).await {
            Some(v) => Ok(SignedIn(v)),
            None => {
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/quarantine", |p| p.as_str());
                let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
        }
    }
}

/// Where to go after signing in: a path on this site only (never `//host` or a URL).
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.bytes().any(|b| b.is_ascii_control())
                && !n.starts_with("/login")
                && !n.starts_with("/logout") =>
        {
            n.to_string()
        }
        _ => "/quarantine".to_string(),
    }
}

/// The signed-in user of a form post whose CSRF token is right.
pub(crate) async fn posted(
    state: &Arc<WebState>,
    headers: &HeaderMap,
    f: &[(String, String)],
) -> Result<Viewer, Response> {
    let v = session::viewer(state, headers)
        .await
        .ok_or_else(|| error_page(None, StatusCode::UNAUTHORIZED, "sign in first", "/login"))?;
    if !v.csrf_ok(field(f, "csrf")) {
        return Err(error_page(
            Some(&v),
            StatusCode::FORBIDDEN,
            "the form's security token is missing or stale: reload the page and try again",
            "/quarantine",
        ));
    }
    Ok(v)
}

/// The top reason of a held message in plain words: its strongest finding about what
/// the message says (a threat, a demand) when it has one, else its strongest of all.
pub fn top_reason(h: &Held, rules: &palisade_engine::RuleSet) -> String {
    reason_and_band(h, rules).0
}

/// The top reason and the severity band of a held message, from its result header.
pub(crate) fn reason_and_band(h: &Held, rules: &palisade_engine::RuleSet) -> (String, Band) {
    let e = explain::explain(None, &h.symbols, None, rules);
    let reason = explain::top(&e.findings)
        .map(|f| f.plain.clone())
        .unwrap_or_default();
    (reason, explain::band(&e.findings))
}

pub(crate) const SORTS: &[(&str, &str)] = &[
    ("time", "Received"),
    ("sender", "From"),
    ("recipient", "To"),
    ("subject", "Subject"),
    ("score", "Score"),
    ("reason", "Top reason"),
];

/// Filters and sorts the list as the query asks. A filter that is not understood (a
/// minimum score that is not a number) is an error, never ignored.
pub fn select(
    mut held: Vec<(Held, String)>,
    q: &HashMap<String, String>,
) -> Result<Vec<(Held, String)>, String> {
    let get = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_lowercase())
            .unwrap_or_default()
    };
    let (text, sender, recipient) = (get("q"), get("sender"), get("recipient"));
    let min_score = match get("min_score").as_str() {
        "" => None,
        m => Some(
            m.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    format!("\u{201c}Score at least\u{201d} must be a number such as 10, not \u{201c}{}\u{201d}.", line(m))
                })?,
        ),
    };
    held.retain(|(h, reason)| {
        let rcpts = h.recipients.join(" ").to_lowercase();
        let from = h.from.to_lowercase();
        let envelope = h.sender.to_lowercase();
        (text.is_empty()
            || envelope.contains(&text)
            || from.contains(&text)
            || h.queue_id.to_lowercase() == text
            || rcpts.contains(&text)
            || h.subject.to_lowercase().contains(&text)
            || reason.to_lowercase().contains(&text))
            && (sender.is_empty() || envelope.contains(&sender) || from.contains(&sender))
            && (recipient.is_empty() || rcpts.contains(&recipient))
            && min_score.is_none_or(|m| h.score >= m)
    });
    let sort = get("sort");
    let shown_from = |h: &Held| {
        if h.from.is_empty() {
            h.sender.to_lowercase()
        } else {
            h.from.to_lowercase()
        }
    };
    match sort.as_str() {
        "sender" => held.sort_by_cached_key(|h| shown_from(&h.0)),
        "recipient" => held.sort_by_cached_key(|h| h.0.recipients.join(",").to_lowercase()),
        "subject" => held.sort_by_cached_key(|h| h.0.subject.to_lowercase()),
        "score" => held.sort_by(|a, b| a.0.score.total_cmp(&b.0.score)),
        "reason" => held.sort_by(|a, b| a.1.cmp(&b.1)),
        _ => held.sort_by_key(|h| h.0.arrival_time),
    }
    // Newest first unless asked otherwise: what arrived last is what needs a look.
    let ascending = match get("dir").as_str() {
        "asc" => true,
        "desc" => false,
        _ => !matches!(sort.as_str(), "" | "time" | "score"),
    };
    if !ascending {
        held.reverse();
    }
    Ok(held)
}

/// An envelope sender for display: `<>` (bounces) said in words.
pub(crate) fn envelope(sender: &str) -> String {
    if sender.is_empty() {
        "<> (no sender)".into()
    } else {
        line(sender).into_owned()
    }
}

/// A subject as the list shows it: without Palisade's own prefix (every held message
/// carries it, so it tells nothing), or "(no subject)".
pub(crate) fn shown_subject(subject: &str, prefix: &str) -> String {
    let p = prefix.trim();
    let s = subject.trim_start();
    let s = match s.strip_prefix(p) {
        Some(rest) if !p.is_empty() => rest.trim_start(),
        _ => s,
    };
    if s.is_empty() {
        "(no subject)".into()
    } else {
        line(s).into_owned()
    }
}

/// What the recipients of a released message will see, in words.
pub(crate) fn arrives(config: &palisade_config::Config) -> String {
    match config.quarantine.release_markers {
        palisade_config::ReleaseMarkers::Remove => "They get it without Palisade's warning marks (the subject prefix and the spam headers), with a header saying that a reviewer released it.".into(),
        palisade_config::ReleaseMarkers::Keep => format!(
            "They get it as it was held: the subject still starts with “{}” and it stays marked as suspect, with a header saying that a reviewer released it.",
            line(config.policy.subject_prefix.trim())
        ),
    }
}

/// The address inside `Name <address>` (or the text itself).
pub(crate) fn address_of(from: &str) -> &str {
    from.rsplit_once('<')
        .and_then(|(_, a)| a.split_once('>'))
        .map_or(from, |(a, _)| a)
        .trim()
}

/// A score with the threshold that held it: `32.00 (held at 10)`.
pub(crate) fn score_line(score: f64, quarantine: f64) -> String {
    if quarantine > 0.0 {
        format!("{score:.2} (held at {quarantine})")
    } else {
        format!("{score:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_returns_only_to_pages_of_this_site() {
        assert_eq!(
            safe_next(Some("/quarantine/4ABC?x=1")),
            "/quarantine/4ABC?x=1"
        );
        for bad in [
            None,
            Some("https://evil.example/"),
            Some("//evil.example/"),
            Some("/\\evil.example"),
            Some("/login?next=/x"),
            Some("quarantine"),
            Some("/a\nb"),
        ] {
            assert_eq!(safe_next(bad), "/quarantine", "{bad:?}");
        }
    }

    #[test]
    fn subjects_lose_our_prefix_and_filters_say_what_is_wrong() {
        let p = "[SUSPECTED THREAT] ";
        assert_eq!(
            shown_subject("[SUSPECTED THREAT] Vote or else", p),
            "Vote or else"
        );
        assert_eq!(
            shown_subject("Re: [SUSPECTED THREAT] x", p),
            "Re: [SUSPECTED THREAT] x"
        );
        assert_eq!(shown_subject("[SUSPECTED THREAT] ", p), "(no subject)");
        assert_eq!(
            address_of("County Clerk <clerk@county.example>"),
            "clerk@county.example"
        );
        assert_eq!(address_of("plain@example.org"), "plain@example.org");
        assert_eq!(score_line(32.0, 10.0), "32.00 (held at 10)");
        let q = HashMap::from([("min_score".to_string(), "abc".to_string())]);
        let err = select(Vec::new(), &q).expect_err("not a number");
        assert!(err.contains("must be a number"), "{err}");
        let q = HashMap::from([("min_score".to_string(), "NaN".to_string())]);
        assert!(select(Vec::new(), &q).is_err());
    }
}
