//! The HTML pages of the review UI. Every value from a message goes through
//! [`crate::escape`] (control characters made visible) and then askama's HTML escaping;
//! the sender's HTML is never rendered (bodies are shown as extracted text) and the
//! Content-Security-Policy forbids scripts and remote content outright.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::session::{self, SignIn, Viewer};
use super::{Act, Done, WebState};
use crate::escape::{block, line};
use crate::quarantine::Held;
use crate::review::explain::{self, Band};
use crate::review::store::{self, Role};
use crate::review::ReviewError;

type St = State<Arc<WebState>>;

/// The signed-in bar.
pub struct Nav {
    user: String,
    role: String,
    csrf: String,
    admin: bool,
}

impl Nav {
    fn of(v: &Viewer) -> Option<Nav> {
        Some(Nav {
            user: v.user.clone(),
            role: v.role.to_string(),
            csrf: v.csrf.clone(),
            admin: v.role == Role::Admin,
        })
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    error: String,
    /// The name typed, kept after a failed attempt.
    user: String,
    /// Where to go after signing in (a path on this site).
    next: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Option<Nav>,
    heading: String,
    message: String,
    back: String,
}

struct Column {
    href: String,
    label: &'static str,
    arrow: &'static str,
}

struct Row {
    id: String,
    received: String,
    /// The From header's display name as the recipient sees it (may be empty).
    from_name: String,
    /// The From header's address (or the envelope sender when there is no From).
    from_addr: String,
    /// The envelope sender, when it is not the From header's address.
    envelope: String,
    recipients: Vec<String>,
    subject: String,
    score: String,
    reason: String,
    band: Band,
    legal_hold: bool,
    reported: bool,
    /// Copies went to some recipients; others still wait.
    partly: bool,
}

/// Copies of one campaign (same From, same subject, same kind) shown as one row that
/// opens to list them.
struct Group {
    first: Row,
    rest: Vec<Row>,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    nav: Option<Nav>,
    notice: String,
    error: String,
    groups: Vec<Group>,
    shown: usize,
    total: usize,
    columns: Vec<Column>,
    q: String,
    sender: String,
    recipient: String,
    min_score: String,
    sort: String,
    dir: String,
    filtered: bool,
}

struct FindingRow {
    plain: String,
    words: String,
    what: String,
    evidence: String,
    symbol: String,
    score: String,
}

/// A recipient in the release form.
struct RecipientChoice {
    address: String,
    /// Already has a copy: cannot be chosen again.
    served: bool,
}

struct HistoryRow {
    time: String,
    actor: String,
    action: String,
    reason: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    nav: Option<Nav>,
    notice: String,
    id: String,
    subject: String,
    /// What recipients of a release will see.
    arrives: String,
    from: String,
    sender: String,
    recipients: String,
    recipient_list: Vec<RecipientChoice>,
    waiting: String,
    received: String,
    score: String,
    band: Band,
    legal_hold: bool,
    reported: String,
    released_to: String,
    pending: String,
    summary: String,
    findings: Vec<FindingRow>,
    auth: Vec<String>,
    can_review: bool,
    csrf: String,
    body: Vec<String>,
    headers: Vec<(String, String)>,
    history: Vec<HistoryRow>,
}

struct AuditRow {
    seq: i64,
    time: String,
    actor: String,
    action: String,
    queue_id: String,
    reason: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    verified: bool,
    verify: String,
    error: String,
    entries: Vec<AuditRow>,
    total: usize,
    first: usize,
    last: usize,
    prev: String,
    next: String,
    queue_id: String,
    actor: String,
    action: String,
    from: String,
    to: String,
    views: bool,
    toggle_views: String,
    actors: Vec<String>,
    actions: Vec<String>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    nav: Option<Nav>,
    csrf: String,
    id: String,
    /// `release` or `delete`.
    action: String,
    subject: String,
    from: String,
    sender: String,
    recipients: Vec<String>,
    reason: String,
    /// What the recipients will see (markers removed or kept).
    arrives: String,
    dual_control: bool,
}

#[derive(Template)]
#[template(path = "closed.html")]
struct ClosedPage {
    nav: Option<Nav>,
    notice: String,
    id: String,
    outcome: String,
    subject: String,
    from: String,
    sender: String,
    recipients: String,
    received: String,
    score: String,
    band: Band,
    summary: String,
    findings: Vec<FindingRow>,
    history: Vec<HistoryRow>,
}

struct UserRow {
    name: String,
    role: String,
    created: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Option<Nav>,
    notice: String,
    csrf: String,
    users: Vec<UserRow>,
}

fn html(status: StatusCode, t: impl Template) -> Response {
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

fn error_page(viewer: Option<&Viewer>, status: StatusCode, message: &str, back: &str) -> Response {
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

fn review_error(viewer: &Viewer, e: &ReviewError, back: &str) -> Response {
    if let ReviewError::Internal(err) = e {
        tracing::error!(error = %format!("{err:#}"), "review action failed");
    }
    error_page(Some(viewer), status_of(e), &e.to_string(), back)
}

/// Runs review work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, ReviewError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ReviewError::Internal(anyhow::anyhow!("task failed: {e}")))?
}

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
fn show_stamp(stamp: &str) -> String {
    stamp
        .parse::<jiff::Timestamp>()
        .map(|t| show_time(t.as_second()))
        .unwrap_or_else(|_| stamp.to_string())
}

/// The start of a day (`YYYY-MM-DD`) in the system's time zone, as the audit log writes
/// times; `None` when it is not a date.
fn day_start(date: &str, days_after: i64) -> Option<String> {
    let d: jiff::civil::Date = date.trim().parse().ok()?;
    let d = d.checked_add(jiff::Span::new().days(days_after)).ok()?;
    let t = d.to_zoned(jiff::tz::TimeZone::system()).ok()?.timestamp();
    Some(crate::review::audit::format_time(t.as_second()))
}

/// Form fields (repeated names kept, in order).
fn form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The signed-in user, or the sign-in page, which comes back to `uri` afterwards.
async fn signed_in(
    state: &Arc<WebState>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Viewer, Response> {
    session::viewer(state, headers).await.ok_or_else(|| {
        let here = uri.path_and_query().map_or("/quarantine", |p| p.as_str());
        let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
        Redirect::to(&format!("/login?next={next}")).into_response()
    })
}

/// Where to go after signing in: a path on this site only (never `//host` or a URL).
fn safe_next(next: Option<&str>) -> String {
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
async fn posted(
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

async fn login_form(State(state): St, Query(q): Query<HashMap<String, String>>) -> Response {
    let token = store::random_hex(32).unwrap_or_default();
    let mut res = html(
        StatusCode::OK,
        LoginPage {
            nav: None,
            csrf: token.clone(),
            error: String::new(),
            user: String::new(),
            next: safe_next(q.get("next").map(String::as_str)),
        },
    );
    if let Ok(v) = session::set_cookie(session::LOGIN_COOKIE, &token, None, state.secure).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn login(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let expected = session::cookie(&headers, session::LOGIN_COOKIE).unwrap_or("");
    let next = safe_next(field(&f, "next"));
    let typed = crate::escape::one_line(field(&f, "user").unwrap_or(""), 64);
    let again = |status: StatusCode, error: &str| {
        let token = store::random_hex(32).unwrap_or_default();
        let mut res = html(
            status,
            LoginPage {
                nav: None,
                csrf: token.clone(),
                error: error.into(),
                user: typed.clone(),
                next: next.clone(),
            },
        );
        if let Ok(v) =
            session::set_cookie(session::LOGIN_COOKIE, &token, None, state.secure).parse()
        {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        res
    };
    if expected.is_empty() || !store::same_secret(field(&f, "csrf").unwrap_or(""), expected) {
        return again(
            StatusCode::FORBIDDEN,
            "The sign-in form expired. Please try again.",
        );
    }
    let user = field(&f, "user").unwrap_or("");
    let password = field(&f, "password").unwrap_or("");
    match session::sign_in(&state, user, password, Some(peer.ip())).await {
        Ok(SignIn::Ok { token, .. }) => {
            let ttl = state.shared.live.load().config.web.session_ttl;
            let mut res = Redirect::to(&next).into_response();
            let h = res.headers_mut();
            for c in [
                session::set_cookie(session::COOKIE, &token, Some(ttl), state.secure),
                session::clear_cookie(session::LOGIN_COOKIE, state.secure),
            ] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            res
        }
        Ok(SignIn::Denied) => again(StatusCode::UNAUTHORIZED, "Wrong user name or password."),
        Ok(SignIn::Limited) => again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins. Wait a while and try again.",
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "sign-in failed");
            again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in is not working right now.",
            )
        }
    }
}

async fn logout(State(state): St, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let v = match posted(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(e) = session::sign_out(&state, &v).await {
        tracing::error!(error = %format!("{e:#}"), "sign-out failed");
    }
    let mut res = Redirect::to("/login").into_response();
    if let Ok(c) = session::clear_cookie(session::COOKIE, state.secure).parse() {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}

/// The top reason of a held message in plain words: its strongest finding about what
/// the message says (a threat, a demand) when it has one, else its strongest of all.
pub fn top_reason(h: &Held, rules: &palisade_engine::RuleSet) -> String {
    reason_and_band(h, rules).0
}

/// The top reason and the severity band of a held message, from its result header.
fn reason_and_band(h: &Held, rules: &palisade_engine::RuleSet) -> (String, Band) {
    let e = explain::explain(None, &h.symbols, None, rules);
    let reason = explain::top(&e.findings)
        .map(|f| f.plain.clone())
        .unwrap_or_default();
    (reason, explain::band(&e.findings))
}

const SORTS: &[(&str, &str)] = &[
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
fn envelope(sender: &str) -> String {
    if sender.is_empty() {
        "<> (no sender)".into()
    } else {
        line(sender).into_owned()
    }
}

/// A subject as the list shows it: without Palisade's own prefix (every held message
/// carries it, so it tells nothing), or "(no subject)".
fn shown_subject(subject: &str, prefix: &str) -> String {
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
fn arrives(config: &crate::config::Config) -> String {
    match config.quarantine.release_markers {
        crate::config::ReleaseMarkers::Remove => "They get it without Palisade's warning marks (the subject prefix and the spam headers), with a header saying that a reviewer released it.".into(),
        crate::config::ReleaseMarkers::Keep => format!(
            "They get it as it was held: the subject still starts with “{}” and it stays marked as suspect, with a header saying that a reviewer released it.",
            line(config.policy.subject_prefix.trim())
        ),
    }
}

/// The address inside `Name <address>` (or the text itself).
fn address_of(from: &str) -> &str {
    from.rsplit_once('<')
        .and_then(|(_, a)| a.split_once('>'))
        .map_or(from, |(a, _)| a)
        .trim()
}

/// A score with the threshold that held it: `32.00 (held at 10)`.
fn score_line(score: f64, quarantine: f64) -> String {
    if quarantine > 0.0 {
        format!("{score:.2} (held at {quarantine})")
    } else {
        format!("{score:.2}")
    }
}

async fn list(
    State(state): St,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = match signed_in(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let st = state.clone();
    let done_id = q_done_id(&q);
    let result = blocking(move || {
        let review = st.review();
        let live = st.live();
        let rules = live.scanner.rules();
        let held = review.list()?;
        let mut out = Vec::new();
        for h in held {
            review.store.settle(&h.queue_id, h.arrival_time as i64)?;
            let state = review.store.state(&h.queue_id)?;
            let (reason, band) = reason_and_band(&h, rules);
            out.push((h, reason, band, state));
        }
        // What the notice names: the record of a message that left the queue, else
        // (under legal hold, a release leaves it held) its state.
        let (done, done_state) = match done_id {
            Some(id) => match review.closed(&id)? {
                Some(c) => (Some(c), None),
                None => (None, Some(review.store.state(&id)?)),
            },
            None => (None, None),
        };
        Ok((out, done, done_state))
    })
    .await;
    let (all, closed, done_state) = match result {
        Ok(a) => a,
        Err(e) => return review_error(&v, &e, "/quarantine"),
    };
    let total = all.len();
    let facts: HashMap<String, (Band, store::MessageState)> = all
        .iter()
        .map(|(h, _, b, s)| (h.queue_id.clone(), (*b, s.clone())))
        .collect();
    let (selected, error) = match select(all.into_iter().map(|(h, r, _, _)| (h, r)).collect(), &q) {
        Ok(s) => (s, String::new()),
        Err(e) => (Vec::new(), e),
    };
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (sort, dir) = (param("sort"), param("dir"));
    let filter_qs: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            ["q", "sender", "recipient", "min_score"]
                .iter()
                .filter_map(|k| {
                    q.get(*k)
                        .filter(|v| !v.is_empty())
                        .map(|v| (*k, v.as_str()))
                }),
        )
        .finish();
    let columns = SORTS
        .iter()
        .map(|(key, label)| {
            let current = sort == *key || (sort.is_empty() && *key == "time");
            let next_dir = if current && dir != "asc" {
                "asc"
            } else {
                "desc"
            };
            let arrow = match (current, dir.as_str()) {
                (false, _) => "",
                (true, "asc") => " ▲",
                (true, _) => " ▼",
            };
            let sep = if filter_qs.is_empty() { "" } else { "&" };
            Column {
                href: format!("/quarantine?{filter_qs}{sep}sort={key}&dir={next_dir}"),
                label,
                arrow,
            }
        })
        .collect();
    let shown = selected.len();
    let prefix = state.live().config.policy.subject_prefix.clone();
    // Copies of one campaign sit together under their first (in the list's order) row.
    let mut groups: Vec<Group> = Vec::new();
    let mut keys: Vec<(String, String, &'static str)> = Vec::new();
    for (h, reason) in selected {
        let (band, st) = facts
            .get(&h.queue_id)
            .cloned()
            .unwrap_or((explain::band(&[]), store::MessageState::default()));
        let key = (
            address_of(if h.from.is_empty() {
                &h.sender
            } else {
                &h.from
            })
            .to_lowercase(),
            h.subject.to_lowercase(),
            band.label,
        );
        let from_address = address_of(&h.from);
        let from_name = h
            .from
            .rsplit_once('<')
            .map_or("", |(name, _)| name.trim())
            .trim_matches('"');
        let row = Row {
            received: show_time(h.arrival_time as i64),
            from_name: line(from_name).into_owned(),
            from_addr: line(if h.from.is_empty() {
                &h.sender
            } else {
                from_address
            })
            .into_owned(),
            envelope: if h.from.is_empty() || from_address.eq_ignore_ascii_case(&h.sender) {
                String::new()
            } else if h.sender.is_empty() {
                "<> (no envelope sender)".into()
            } else {
                line(&h.sender).into_owned()
            },
            recipients: h.recipients.iter().map(|r| line(r).into_owned()).collect(),
            subject: shown_subject(&h.subject, &prefix),
            score: format!("{:.2}", h.score),
            reason,
            band,
            legal_hold: st.legal_hold,
            reported: st.reported.is_some(),
            partly: !st.released_to.is_empty(),
            id: h.queue_id,
        };
        match keys.iter().position(|k| *k == key) {
            Some(i) if !key.1.is_empty() => groups[i].rest.push(row),
            _ => {
                keys.push(key);
                groups.push(Group {
                    first: row,
                    rest: Vec::new(),
                });
            }
        }
    }
    let filtered = ["q", "sender", "recipient", "min_score"]
        .iter()
        .any(|k| q.get(*k).is_some_and(|v| !v.is_empty()));
    html(
        StatusCode::OK,
        ListPage {
            nav: Nav::of(&v),
            notice: notice_text(&q, closed.as_ref(), done_state.as_ref(), &prefix),
            error,
            groups,
            shown,
            total,
            columns,
            q: param("q"),
            sender: param("sender"),
            recipient: param("recipient"),
            min_score: param("min_score"),
            sort,
            dir,
            filtered,
        },
    )
}

/// The message a `done=` notice is about (`id=` in the query), if it is a queue id.
fn q_done_id(q: &HashMap<String, String>) -> Option<String> {
    q.get("id").filter(|id| is_queue_id(id)).cloned()
}

/// Whether `id` looks like a Postfix queue id (safe to put in a URL as it is).
fn is_queue_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What an action did, named after what happened to the message (never taken on the
/// query's word: names come from the record or the message's state).
fn notice_text(
    q: &HashMap<String, String>,
    closed: Option<&store::Closed>,
    state: Option<&store::MessageState>,
    prefix: &str,
) -> String {
    let named = |who: &[String]| {
        if who.is_empty() {
            "its recipients".to_string()
        } else {
            line(&who.join(", ")).into_owned()
        }
    };
    // Recipients the query names that the message's state confirms.
    let confirmed = |st: &store::MessageState| -> Vec<String> {
        q.get("to")
            .map(|t| {
                t.split(',')
                    .filter(|r| st.released_to.iter().any(|d| d.eq_ignore_ascii_case(r)))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    match q.get("done").map(String::as_str) {
        Some("release") => match (closed, state) {
            (Some(c), _) => format!(
                "Released \u{201c}{}\u{201d} to {}.",
                shown_subject(&c.subject, prefix),
                named(&c.released_to)
            ),
            // Under legal hold the original stays held; the copies went.
            (None, Some(st)) if !confirmed(st).is_empty() => format!(
                "Released to {}; the original stays held under legal hold.",
                named(&confirmed(st))
            ),
            _ => "Released: the message is on its way.".into(),
        },
        Some("delete") => match closed {
            Some(c) => format!(
                "Deleted \u{201c}{}\u{201d} from {}.",
                shown_subject(&c.subject, prefix),
                line(if c.from.is_empty() {
                    &c.sender
                } else {
                    &c.from
                })
            ),
            None => "Deleted from the hold queue.".into(),
        },
        Some("released-some") => {
            let to = state.map(confirmed).unwrap_or_default();
            format!(
                "A copy was released to {}; the message stays held for the others.",
                named(&to)
            )
        }
        Some("already") => {
            let to = state.map(confirmed).unwrap_or_default();
            format!("Nothing more was sent: {} already had a copy.", named(&to))
        }
        Some("requested") => {
            "Your release is recorded. Dual control: a second reviewer must release it too.".into()
        }
        Some("reported") => "Marked as reported.".into(),
        Some("hold") => "Legal hold placed: the message cannot be deleted.".into(),
        Some("unhold") => "Legal hold lifted.".into(),
        Some("stale") => {
            "Nothing more was done: this message had already left the hold queue, as shown below."
                .into()
        }
        _ => String::new(),
    }
}

/// Findings as the pages show them.
fn finding_rows(findings: &[explain::Finding]) -> Vec<FindingRow> {
    findings
        .iter()
        .map(|f| FindingRow {
            plain: line(&f.plain).into_owned(),
            words: line(&f.words).into_owned(),
            what: line(&f.what).into_owned(),
            evidence: line(&f.evidence).into_owned(),
            symbol: f.symbol.clone(),
            score: format!("{:.2}", f.score),
        })
        .collect()
}

fn history_rows(entries: &[crate::review::audit::Entry]) -> Vec<HistoryRow> {
    entries
        .iter()
        .map(|e| HistoryRow {
            time: show_stamp(&e.time),
            actor: line(&e.actor).into_owned(),
            action: e.action.clone(),
            reason: line(&e.reason).into_owned(),
            detail: line(&e.detail).into_owned(),
        })
        .collect()
}

/// The page of a message that left the hold queue by a review action: what it was, what
/// became of it, who did it and why.
fn closed_page(
    state: &Arc<WebState>,
    v: &Viewer,
    c: &store::Closed,
    history: &[crate::review::audit::Entry],
    notice: String,
) -> Response {
    let live = state.live();
    let e = explain::explain(c.verdict.as_ref(), &c.symbols, None, live.scanner.rules());
    let when = show_time(c.at);
    let outcome = match c.outcome.as_str() {
        "released" => format!(
            "Released to {} by {} on {}. Reason: {}",
            line(&c.released_to.join(", ")),
            line(&c.by),
            when,
            line(&c.reason)
        ),
        _ => format!(
            "Deleted by {} on {}. Reason: {}",
            line(&c.by),
            when,
            line(&c.reason)
        ),
    };
    html(
        StatusCode::OK,
        ClosedPage {
            nav: Nav::of(v),
            notice,
            id: c.queue_id.clone(),
            outcome,
            subject: shown_subject(&c.subject, &live.config.policy.subject_prefix),
            from: line(&c.from).into_owned(),
            sender: envelope(&c.sender),
            recipients: line(&c.recipients.join(", ")).into_owned(),
            received: show_time(c.arrival),
            score: score_line(c.score, live.config.policy.quarantine),
            band: explain::band(&e.findings),
            summary: e.summary.clone(),
            findings: finding_rows(&e.findings),
            history: history_rows(history),
        },
    )
}

/// A message no longer held: its record when a review action took it out, else a "not
/// found" page that leads back to the list.
async fn gone(
    state: &Arc<WebState>,
    v: &Viewer,
    id: &str,
    e: &ReviewError,
    notice: String,
) -> Response {
    let (st, qid) = (state.clone(), id.to_string());
    let found = blocking(move || {
        let review = st.review();
        let Some(c) = review.closed(&qid)? else {
            return Ok(None);
        };
        let history = review.store.audit_entries(Some((&qid, c.arrival)), 200)?;
        Ok(Some((c, history)))
    })
    .await;
    match found {
        Ok(Some((c, history))) => closed_page(state, v, &c, &history, notice),
        Ok(None) => review_error(v, e, "/quarantine"),
        Err(e2) => review_error(v, &e2, "/quarantine"),
    }
}

async fn message(
    State(state): St,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = match signed_in(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (st, actor, qid) = (state.clone(), v.actor(), id.clone());
    let view =
        match blocking(move || st.review().view(&actor, &qid, st.live().scanner.rules())).await {
            Ok(view) => {
                state.count("view");
                view
            }
            Err(e @ ReviewError::NotFound(_)) => {
                let notice = notice_text(&q, None, None, "");
                return gone(&state, &v, &id, &e, notice).await;
            }
            Err(e) => return review_error(&v, &e, "/quarantine"),
        };
    let h = &view.held;
    let live = state.live();
    let pending = view
        .state
        .pending_release
        .as_ref()
        .map(|p| {
            format!(
                "Release requested by {} ({}): waiting for a second reviewer",
                p.user,
                line(&p.reason)
            )
        })
        .unwrap_or_default();
    let served = |r: &str| {
        view.state
            .released_to
            .iter()
            .any(|d| d.eq_ignore_ascii_case(r))
    };
    let waiting: Vec<&String> = h.recipients.iter().filter(|r| !served(r)).collect();
    html(
        StatusCode::OK,
        MessagePage {
            nav: Nav::of(&v),
            notice: notice_text(&q, None, Some(&view.state), ""),
            id: h.queue_id.clone(),
            subject: shown_subject(&h.subject, &live.config.policy.subject_prefix),
            arrives: arrives(&live.config),
            from: line(&h.from).into_owned(),
            sender: envelope(&h.sender),
            recipients: line(&h.recipients.join(", ")).into_owned(),
            recipient_list: h
                .recipients
                .iter()
                .map(|r| RecipientChoice {
                    address: line(r).into_owned(),
                    served: served(r),
                })
                .collect(),
            waiting: line(
                &waiting
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
            .into_owned(),
            received: show_time(h.arrival_time as i64),
            score: score_line(h.score, live.config.policy.quarantine),
            band: explain::band(&view.explanation.findings),
            legal_hold: view.state.legal_hold,
            reported: view.state.reported.map(show_time).unwrap_or_default(),
            released_to: line(&view.state.released_to.join(", ")).into_owned(),
            pending,
            summary: view.explanation.summary.clone(),
            findings: finding_rows(&view.explanation.findings),
            auth: view
                .explanation
                .auth
                .iter()
                .map(|a| line(a).into_owned())
                .collect(),
            can_review: v.role.can_review(),
            csrf: v.csrf.clone(),
            body: view.body.iter().map(|b| block(b).into_owned()).collect(),
            headers: view
                .headers
                .iter()
                .map(|(n, val)| {
                    (
                        line(n).into_owned(),
                        line(&crate::quarantine::decode_header(val)).into_owned(),
                    )
                })
                .collect(),
            history: history_rows(&view.audit),
        },
    )
}

/// The confirmation of a release or a delete: who will receive it (or what goes), asked
/// before anything is sent or removed.
async fn confirm(
    state: &Arc<WebState>,
    v: &Viewer,
    id: &str,
    action: &str,
    f: &[(String, String)],
) -> Response {
    let back = format!("/quarantine/{}", line(id));
    let reason = field(f, "reason").unwrap_or("").trim().to_string();
    if reason.is_empty() {
        return error_page(
            Some(v),
            StatusCode::BAD_REQUEST,
            "a reason is required: say why, for the audit log",
            &back,
        );
    }
    let scope = field(f, "scope").unwrap_or("some");
    let ticked: Vec<String> = f
        .iter()
        .filter(|(k, _)| k == "recipient")
        .map(|(_, v)| v.clone())
        .collect();
    let (st, qid) = (state.clone(), id.to_string());
    let found = blocking(move || {
        let review = st.review();
        let held = review
            .queue
            .find(&qid)
            .map_err(|e| ReviewError::NotFound(format!("{e:#}")))?;
        review.store.settle(&qid, held.arrival_time as i64)?;
        let state = review.store.state(&qid)?;
        Ok((held, state))
    })
    .await;
    let (held, mstate) = match found {
        Ok(x) => x,
        Err(e @ ReviewError::NotFound(_)) => {
            return gone(state, v, id, &e, notice_text(&stale(), None, None, "")).await
        }
        Err(e) => return review_error(v, &e, &back),
    };
    let served = |r: &str| mstate.released_to.iter().any(|d| d.eq_ignore_ascii_case(r));
    let recipients: Vec<String> = if action == "delete" {
        held.recipients.clone()
    } else if scope == "all" {
        held.recipients
            .iter()
            .filter(|r| !served(r))
            .cloned()
            .collect()
    } else {
        if ticked.is_empty() {
            return error_page(
                Some(v),
                StatusCode::BAD_REQUEST,
                "tick the recipients to release to, or choose \u{201c}all recipients\u{201d}",
                &back,
            );
        }
        if let Some(r) = ticked
            .iter()
            .find(|r| !held.recipients.iter().any(|h| h.eq_ignore_ascii_case(r)))
        {
            return error_page(
                Some(v),
                StatusCode::BAD_REQUEST,
                &format!("{r} is not a recipient of this message"),
                &back,
            );
        }
        if let Some(r) = ticked.iter().find(|r| served(r)) {
            return error_page(
                Some(v),
                StatusCode::CONFLICT,
                &format!("{r} already has a copy of this message"),
                &back,
            );
        }
        ticked
    };
    if action == "release" && recipients.is_empty() {
        return error_page(
            Some(v),
            StatusCode::CONFLICT,
            "every recipient already has a copy; delete the message instead",
            &back,
        );
    }
    let live = state.live();
    let dual_control = action == "release"
        && live.config.web.dual_control
        && explain::explain(None, &held.symbols, None, live.scanner.rules()).threat;
    html(
        StatusCode::OK,
        ConfirmPage {
            nav: Nav::of(v),
            csrf: v.csrf.clone(),
            id: held.queue_id.clone(),
            action: action.into(),
            subject: shown_subject(&held.subject, &live.config.policy.subject_prefix),
            from: line(&held.from).into_owned(),
            sender: envelope(&held.sender),
            recipients: recipients.iter().map(|r| line(r).into_owned()).collect(),
            reason: line(&reason).into_owned(),
            arrives: arrives(&live.config),
            dual_control,
        },
    )
}

fn stale() -> HashMap<String, String> {
    HashMap::from([("done".to_string(), "stale".to_string())])
}

async fn act(
    State(state): St,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let v = match posted(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let back = format!("/quarantine/{}", line(&id));
    // Release and delete are asked twice: the second page says who receives the message
    // (or what goes) before anything happens.
    if matches!(action.as_str(), "release" | "delete") && field(&f, "confirmed") != Some("yes") {
        return confirm(&state, &v, &id, &action, &f).await;
    }
    let reason = field(&f, "reason").unwrap_or("").to_string();
    let recipients: Vec<String> = f
        .iter()
        .filter(|(k, _)| k == "recipient")
        .map(|(_, v)| v.clone())
        .collect();
    let on = field(&f, "on") != Some("0");
    let to_query: String =
        form_urlencoded::byte_serialize(recipients.join(",").as_bytes()).collect();
    let Some(act) = Act::parse(&action, reason, recipients.clone(), on) else {
        return error_page(Some(&v), StatusCode::NOT_FOUND, "no such action", &back);
    };
    match state.perform(&v, id.clone(), act).await {
        Ok(Done::Deleted) => {
            Redirect::to(&format!("/quarantine?done=delete&id={id}")).into_response()
        }
        Ok(Done::Released { whole: true, .. }) => {
            Redirect::to(&format!("/quarantine?done=release&id={id}&to={to_query}")).into_response()
        }
        Ok(done) => {
            let key = match done {
                Done::Released { .. } => "released-some",
                Done::Requested { .. } => "requested",
                Done::Reported => "reported",
                Done::Hold { on: true } => "hold",
                _ => "unhold",
            };
            Redirect::to(&format!("/quarantine/{id}?done={key}&to={to_query}")).into_response()
        }
        // A repeated or stale submit: the message left the queue (released or deleted,
        // perhaps by a colleague) or these recipients already have their copy. Say what
        // happened instead of refusing.
        Err(ReviewError::NotFound(_)) if is_queue_id(&id) => {
            Redirect::to(&format!("/quarantine/{id}?done=stale")).into_response()
        }
        Err(ReviewError::NotFound(m)) => {
            error_page(Some(&v), StatusCode::NOT_FOUND, &m, "/quarantine")
        }
        Err(ReviewError::Conflict(m)) if m.contains("already has a copy") && is_queue_id(&id) => {
            Redirect::to(&format!("/quarantine/{id}?done=already&to={to_query}")).into_response()
        }
        Err(e) => review_error(&v, &e, &back),
    }
}

async fn export(
    State(state): St,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let v = match signed_in(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    export_response(&state, &v, id)
        .await
        .unwrap_or_else(|e| review_error(&v, &e, "/quarantine"))
}

/// The evidence bundle as a download (shared with the API).
pub async fn export_response(
    state: &Arc<WebState>,
    v: &Viewer,
    id: String,
) -> Result<Response, ReviewError> {
    let (st, actor, qid) = (state.clone(), v.actor(), id.clone());
    let tar = blocking(move || {
        st.review()
            .export(&actor, &qid, st.live().scanner.rules(), &st.reporter)
    })
    .await?;
    state.count("export");
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"palisade-{}.tar\"", line(&id)),
            ),
        ],
        tar,
    )
        .into_response())
}

/// Audit entries per page.
const AUDIT_PAGE: usize = 100;

async fn audit(
    State(state): St,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = match signed_in(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let param = |k: &str| q.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let (from, to) = (param("from"), param("to"));
    let views = param("views") == "1";
    let mut errors = Vec::new();
    let since = match from.as_str() {
        "" => String::new(),
        d => day_start(d, 0).unwrap_or_else(|| {
            errors.push(format!(
                "\u{201c}From\u{201d} must be a date such as 2026-11-03, not \u{201c}{}\u{201d}.",
                line(d)
            ));
            String::new()
        }),
    };
    let until = match to.as_str() {
        "" => String::new(),
        d => day_start(d, 1).unwrap_or_else(|| {
            errors.push(format!(
                "\u{201c}To\u{201d} must be a date such as 2026-11-03, not \u{201c}{}\u{201d}.",
                line(d)
            ));
            String::new()
        }),
    };
    let page: usize = match param("page").as_str() {
        "" => 1,
        p => match p.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                errors.push(format!("\u{201c}{}\u{201d} is not a page number.", line(p)));
                1
            }
        },
    };
    let filter = store::AuditFilter {
        queue_id: param("queue_id"),
        actor: param("actor"),
        action: param("action"),
        since,
        until,
        // Views are folded away unless asked for, or unless views are what is asked.
        no_views: !views && param("action") != "view",
    };
    let st = state.clone();
    let f2 = filter.clone();
    let result = blocking(move || {
        let (entries, total) = st
            .store
            .audit_page(&f2, (page - 1) * AUDIT_PAGE, AUDIT_PAGE)?;
        let choices = st.store.audit_choices()?;
        let verify = st.store.verify_audit();
        Ok((entries, total, choices, verify))
    })
    .await;
    let (entries, total, (actors, actions), verify) = match result {
        Ok(r) => r,
        Err(e) => return review_error(&v, &e, "/quarantine"),
    };
    let (verified, verify) = match verify {
        Ok(ok) => (
            true,
            format!(
                "Chain intact: {} entries, head {}.{}",
                ok.entries,
                ok.head,
                if ok.head_file {
                    ""
                } else {
                    " No head file to compare with: removal of the newest entries cannot be ruled out."
                }
            ),
        ),
        Err(e) => (false, format!("The audit log was tampered with: {e:#}")),
    };
    // Links keep the filter and change one thing.
    let link = |page: usize, views: bool| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for k in ["queue_id", "actor", "action", "from", "to"] {
            let val = param(k);
            if !val.is_empty() {
                ser.append_pair(k, &val);
            }
        }
        if views {
            ser.append_pair("views", "1");
        }
        if page > 1 {
            ser.append_pair("page", &page.to_string());
        }
        format!("/audit?{}", ser.finish())
    };
    let first = if total == 0 {
        0
    } else {
        (page - 1) * AUDIT_PAGE + 1
    };
    let last = ((page - 1) * AUDIT_PAGE + entries.len()).min(total);
    html(
        StatusCode::OK,
        AuditPage {
            nav: Nav::of(&v),
            verified,
            verify,
            error: errors.join(" "),
            entries: entries
                .into_iter()
                .map(|e| AuditRow {
                    seq: e.seq,
                    time: show_stamp(&e.time),
                    actor: line(&e.actor).into_owned(),
                    action: e.action,
                    queue_id: e.queue_id,
                    reason: line(&e.reason).into_owned(),
                    detail: line(&e.detail).into_owned(),
                })
                .collect(),
            total,
            first,
            last,
            prev: if page > 1 {
                link(page - 1, views)
            } else {
                String::new()
            },
            next: if last < total {
                link(page + 1, views)
            } else {
                String::new()
            },
            queue_id: filter.queue_id,
            actor: filter.actor,
            action: filter.action,
            from,
            to,
            views,
            toggle_views: link(1, !views),
            actors: actors.iter().map(|a| line(a).into_owned()).collect(),
            actions,
        },
    )
}

async fn users_page(state: &Arc<WebState>, v: &Viewer, notice: &str) -> Response {
    let st = state.clone();
    match blocking(move || Ok(st.store.users()?)).await {
        Ok(users) => html(
            StatusCode::OK,
            UsersPage {
                nav: Nav::of(v),
                notice: notice.into(),
                csrf: v.csrf.clone(),
                users: users
                    .into_iter()
                    .map(|u| UserRow {
                        name: u.name,
                        role: u.role.to_string(),
                        created: show_time(u.created),
                    })
                    .collect(),
            },
        ),
        Err(e) => review_error(v, &e, "/quarantine"),
    }
}

/// The signed-in admin of a form post with the right CSRF token.
async fn posted_admin(
    state: &Arc<WebState>,
    headers: &HeaderMap,
    f: &[(String, String)],
) -> Result<Viewer, Response> {
    let v = posted(state, headers, f).await?;
    match admin_only(&v) {
        Some(refused) => Err(refused),
        None => Ok(v),
    }
}

fn admin_only(v: &Viewer) -> Option<Response> {
    (v.role != Role::Admin).then(|| {
        error_page(
            Some(v),
            StatusCode::FORBIDDEN,
            "only admins manage users",
            "/quarantine",
        )
    })
}

async fn users(State(state): St, headers: HeaderMap, uri: Uri) -> Response {
    let v = match signed_in(&state, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(r) = admin_only(&v) {
        return r;
    }
    users_page(&state, &v, "").await
}

async fn add_user(State(state): St, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let v = match posted_admin(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = field(&f, "name").unwrap_or("").trim().to_string();
    let password = field(&f, "password").unwrap_or("").to_string();
    let Some(role) = Role::parse(field(&f, "role").unwrap_or("")) else {
        return error_page(
            Some(&v),
            StatusCode::BAD_REQUEST,
            "choose admin, reviewer or auditor",
            "/users",
        );
    };
    let (st, admin, n) = (state.clone(), v.user.clone(), name.clone());
    let r = blocking(move || {
        st.store
            .add_user(&n, role, &password)
            .map_err(|e| ReviewError::BadRequest(format!("{e:#}")))?;
        st.store
            .audit(&admin, "user-add", "", "", &format!("{n} as {role}"))?;
        Ok(())
    })
    .await;
    match r {
        Ok(()) => users_page(&state, &v, &format!("Saved {} as {role}.", line(&name))).await,
        Err(e) => review_error(&v, &e, "/users"),
    }
}

async fn remove_user(
    State(state): St,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let v = match posted_admin(&state, &headers, &f).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if name == v.user {
        return error_page(
            Some(&v),
            StatusCode::CONFLICT,
            "you cannot remove yourself",
            "/users",
        );
    }
    let (st, admin, n) = (state.clone(), v.user.clone(), name.clone());
    let r = blocking(move || {
        let removed = st.store.remove_user(&n)?;
        if removed {
            st.store.audit(&admin, "user-remove", "", "", &n)?;
        }
        Ok(removed)
    })
    .await;
    match r {
        Ok(true) => users_page(&state, &v, &format!("Removed {}.", line(&name))).await,
        Ok(false) => error_page(Some(&v), StatusCode::NOT_FOUND, "no such user", "/users"),
        Err(e) => review_error(&v, &e, "/users"),
    }
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/palisade.css"),
    )
        .into_response()
}

/// The pages' only script (the Content-Security-Policy allows no other): a page the
/// browser brings back from its back/forward cache is loaded again, so a message
/// released or deleted meanwhile never shows live buttons.
async fn page_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/page.js"),
    )
        .into_response()
}

/// The page routes.
pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/quarantine") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/quarantine", get(list))
        .route("/quarantine/{id}", get(message))
        .route("/quarantine/{id}/export", get(export))
        .route("/quarantine/{id}/{action}", post(act))
        .route("/audit", get(audit))
        .route("/users", get(users).post(add_user))
        .route("/users/{name}/remove", post(remove_user))
        .route("/static/palisade.css", get(css))
        .route("/static/page.js", get(page_js))
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
