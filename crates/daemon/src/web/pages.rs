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
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::session::{self, SignIn, Viewer};
use super::{Act, Done, WebState};
use crate::escape::{block, line};
use crate::quarantine::Held;
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
    sender: String,
    recipients: String,
    subject: String,
    score: String,
    reason: String,
    legal_hold: bool,
    reported: bool,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    nav: Option<Nav>,
    notice: String,
    rows: Vec<Row>,
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
    kind: String,
    what: String,
    evidence: String,
    symbol: String,
    score: String,
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
    sender: String,
    recipients: String,
    recipient_list: Vec<String>,
    received: String,
    score: String,
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
    entries: Vec<AuditRow>,
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

/// A time as `2026-11-30 02:15 UTC`.
pub fn show_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Form fields (repeated names kept, in order).
fn form(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The signed-in user, or the sign-in page.
async fn signed_in(state: &Arc<WebState>, headers: &HeaderMap) -> Result<Viewer, Response> {
    session::viewer(state, headers)
        .await
        .ok_or_else(|| Redirect::to("/login").into_response())
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

async fn login_form(State(state): St) -> Response {
    let token = store::random_hex(32).unwrap_or_default();
    let mut res = html(
        StatusCode::OK,
        LoginPage {
            nav: None,
            csrf: token.clone(),
            error: String::new(),
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
    let again = |status: StatusCode, error: &str| {
        let token = store::random_hex(32).unwrap_or_default();
        let mut res = html(
            status,
            LoginPage {
                nav: None,
                csrf: token.clone(),
                error: error.into(),
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
            let mut res = Redirect::to("/quarantine").into_response();
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

/// The top reason of a held message in plain words (its strongest symbol's description).
pub fn top_reason(h: &Held, rules: &palisade_engine::RuleSet) -> String {
    let e =
        crate::review::explain::explain(None, &h.symbols[..h.symbols.len().min(1)], None, rules);
    e.findings
        .first()
        .map(|f| f.what.clone())
        .unwrap_or_default()
}

const SORTS: &[(&str, &str)] = &[
    ("time", "Received"),
    ("sender", "From"),
    ("recipient", "To"),
    ("subject", "Subject"),
    ("score", "Score"),
    ("reason", "Top reason"),
];

/// Filters and sorts the list as the query asks.
pub fn select(mut held: Vec<(Held, String)>, q: &HashMap<String, String>) -> Vec<(Held, String)> {
    let get = |k: &str| {
        q.get(k)
            .map(|s| s.trim().to_lowercase())
            .unwrap_or_default()
    };
    let (text, sender, recipient) = (get("q"), get("sender"), get("recipient"));
    let min_score = get("min_score").parse::<f64>().ok();
    held.retain(|(h, reason)| {
        let rcpts = h.recipients.join(" ").to_lowercase();
        (text.is_empty()
            || h.sender.to_lowercase().contains(&text)
            || rcpts.contains(&text)
            || h.subject.to_lowercase().contains(&text)
            || reason.to_lowercase().contains(&text))
            && (sender.is_empty() || h.sender.to_lowercase().contains(&sender))
            && (recipient.is_empty() || rcpts.contains(&recipient))
            && min_score.is_none_or(|m| h.score >= m)
    });
    let sort = get("sort");
    match sort.as_str() {
        "sender" => held.sort_by_cached_key(|h| h.0.sender.to_lowercase()),
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
    held
}

async fn list(
    State(state): St,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = match signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let st = state.clone();
    let result = blocking(move || {
        let review = st.review();
        let live = st.live();
        let rules = live.scanner.rules();
        let held = review.list()?;
        let mut out = Vec::new();
        for h in held {
            review.store.settle(&h.queue_id, h.arrival_time as i64)?;
            let state = review.store.state(&h.queue_id)?;
            let reason = top_reason(&h, rules);
            out.push((h, reason, state));
        }
        Ok(out)
    })
    .await;
    let all = match result {
        Ok(a) => a,
        Err(e) => return review_error(&v, &e, "/quarantine"),
    };
    let total = all.len();
    let states: HashMap<String, store::MessageState> = all
        .iter()
        .map(|(h, _, s)| (h.queue_id.clone(), s.clone()))
        .collect();
    let selected = select(all.into_iter().map(|(h, r, _)| (h, r)).collect(), &q);
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
    let rows = selected
        .into_iter()
        .map(|(h, reason)| {
            let st = states.get(&h.queue_id).cloned().unwrap_or_default();
            Row {
                received: show_time(h.arrival_time as i64),
                sender: line(&h.sender).into_owned(),
                recipients: line(&h.recipients.join(", ")).into_owned(),
                subject: if h.subject.is_empty() {
                    "(no subject)".into()
                } else {
                    line(&h.subject).into_owned()
                },
                score: format!("{:.2}", h.score),
                reason,
                legal_hold: st.legal_hold,
                reported: st.reported.is_some(),
                id: h.queue_id,
            }
        })
        .collect();
    let filtered = ["q", "sender", "recipient", "min_score"]
        .iter()
        .any(|k| q.get(*k).is_some_and(|v| !v.is_empty()));
    html(
        StatusCode::OK,
        ListPage {
            nav: Nav::of(&v),
            notice: notice_text(q.get("done")).into(),
            rows,
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

fn notice_text(done: Option<&String>) -> &'static str {
    match done.map(String::as_str) {
        Some("release") => "Released: the message is on its way.",
        Some("delete") => "Deleted from the hold queue.",
        Some("released-some") => {
            "A copy was released to the chosen recipients; the message stays held for the others."
        }
        Some("requested") => {
            "Your release is recorded. Dual control: a second reviewer must release it too."
        }
        Some("reported") => "Marked as reported.",
        Some("hold") => "Legal hold placed: the message cannot be deleted.",
        Some("unhold") => "Legal hold lifted.",
        _ => "",
    }
}

async fn message(
    State(state): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = match signed_in(&state, &headers).await {
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
            Err(e) => return review_error(&v, &e, "/quarantine"),
        };
    let h = &view.held;
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
    html(
        StatusCode::OK,
        MessagePage {
            nav: Nav::of(&v),
            notice: notice_text(q.get("done")).into(),
            id: h.queue_id.clone(),
            subject: if h.subject.is_empty() {
                "(no subject)".into()
            } else {
                line(&h.subject).into_owned()
            },
            sender: line(if h.sender.is_empty() {
                "<> (no sender)"
            } else {
                &h.sender
            })
            .into_owned(),
            recipients: line(&h.recipients.join(", ")).into_owned(),
            recipient_list: h.recipients.iter().map(|r| line(r).into_owned()).collect(),
            received: show_time(h.arrival_time as i64),
            score: format!("{:.2}", h.score),
            legal_hold: view.state.legal_hold,
            reported: view.state.reported.map(show_time).unwrap_or_default(),
            released_to: line(&view.state.released_to.join(", ")).into_owned(),
            pending,
            summary: view.explanation.summary.clone(),
            findings: view
                .explanation
                .findings
                .iter()
                .map(|f| FindingRow {
                    kind: f.kind.clone(),
                    what: line(&f.what).into_owned(),
                    evidence: line(&f.evidence).into_owned(),
                    symbol: f.symbol.clone(),
                    score: format!("{:.2}", f.score),
                })
                .collect(),
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
                .map(|(n, val)| (line(n).into_owned(), line(val).into_owned()))
                .collect(),
            history: view
                .audit
                .iter()
                .map(|e| HistoryRow {
                    time: e.time.clone(),
                    actor: line(&e.actor).into_owned(),
                    action: e.action.clone(),
                    reason: line(&e.reason).into_owned(),
                    detail: line(&e.detail).into_owned(),
                })
                .collect(),
        },
    )
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
    let reason = field(&f, "reason").unwrap_or("").to_string();
    let recipients: Vec<String> = f
        .iter()
        .filter(|(k, _)| k == "recipient")
        .map(|(_, v)| v.clone())
        .collect();
    let on = field(&f, "on") != Some("0");
    let Some(act) = Act::parse(&action, reason, recipients, on) else {
        return error_page(Some(&v), StatusCode::NOT_FOUND, "no such action", &back);
    };
    match state.perform(&v, id.clone(), act).await {
        Ok(Done::Deleted) => Redirect::to("/quarantine?done=delete").into_response(),
        Ok(Done::Released { whole: true, .. }) => {
            Redirect::to("/quarantine?done=release").into_response()
        }
        Ok(done) => {
            let key = match done {
                Done::Released { .. } => "released-some",
                Done::Requested { .. } => "requested",
                Done::Reported => "reported",
                Done::Hold { on: true } => "hold",
                _ => "unhold",
            };
            Redirect::to(&format!("/quarantine/{id}?done={key}")).into_response()
        }
        Err(e) => review_error(&v, &e, &back),
    }
}

async fn export(State(state): St, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let v = match signed_in(&state, &headers).await {
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

async fn audit(State(state): St, headers: HeaderMap) -> Response {
    let v = match signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let st = state.clone();
    let result = blocking(move || {
        let entries = st.store.audit_entries(None, 1000)?;
        let verify = st.store.verify_audit();
        Ok((entries, verify))
    })
    .await;
    let (entries, verify) = match result {
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
    html(
        StatusCode::OK,
        AuditPage {
            nav: Nav::of(&v),
            verified,
            verify,
            entries: entries
                .into_iter()
                .map(|e| AuditRow {
                    seq: e.seq,
                    time: e.time,
                    actor: line(&e.actor).into_owned(),
                    action: e.action,
                    queue_id: e.queue_id,
                    reason: line(&e.reason).into_owned(),
                    detail: line(&e.detail).into_owned(),
                })
                .collect(),
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

async fn users(State(state): St, headers: HeaderMap) -> Response {
    let v = match signed_in(&state, &headers).await {
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
}
