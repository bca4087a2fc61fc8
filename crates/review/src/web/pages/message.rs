//! One held message: its page, the confirmation of a release or delete, the action
//! itself, the page of a message no longer held, and the evidence download.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::explain::{self, Band};
use crate::store::{self};
use crate::web::session::Viewer;
use crate::web::state::{Act, Done, WebState};
use crate::ReviewError;
use palisade_report::escape::{block, line};

use super::common::*;

pub(crate) struct FindingRow {
    plain: String,
    words: String,
    what: String,
    evidence: String,
    symbol: String,
    score: String,
}

/// A recipient in the release form.
pub(crate) struct RecipientChoice {
    address: String,
    /// Already has a copy: cannot be chosen again.
    served: bool,
}

pub(crate) struct HistoryRow {
    time: String,
    actor: String,
    action: String,
    reason: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
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

#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage {
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
pub(crate) struct ClosedPage {
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

/// The message a `done=` notice is about (`id=` in the query), if it is a queue id.
pub(crate) fn q_done_id(q: &HashMap<String, String>) -> Option<String> {
    q.get("id").filter(|id| is_queue_id(id)).cloned()
}

/// Whether `id` looks like a Postfix queue id (safe to put in a URL as it is).
pub(crate) fn is_queue_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What an action did, named after what happened to the message (never taken on the
/// query's word: names come from the record or the message's state).
pub(crate) fn notice_text(
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
pub(crate) fn finding_rows(findings: &[explain::Finding]) -> Vec<FindingRow> {
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

pub(crate) fn history_rows(entries: &[crate::audit::Entry]) -> Vec<HistoryRow> {
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
pub(crate) fn closed_page(
    state: &Arc<WebState>,
    v: &Viewer,
    c: &store::Closed,
    history: &[crate::audit::Entry],
    notice: String,
) -> Response {
    let live = state.live();
    let e = explain::explain(c.verdict.as_ref(), &c.symbols, None, live.rules());
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
            subject: shown_subject(&c.subject, &live.config().policy.subject_prefix),
            from: line(&c.from).into_owned(),
            sender: envelope(&c.sender),
            recipients: line(&c.recipients.join(", ")).into_owned(),
            received: show_time(c.arrival),
            score: score_line(c.score, live.config().policy.quarantine),
            band: explain::band(&e.findings),
            summary: e.summary.clone(),
            findings: finding_rows(&e.findings),
            history: history_rows(history),
        },
    )
}

/// A message no longer held: its record when a review action took it out, else a "not
/// found" page that leads back to the list.
pub(crate) async fn gone(
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

pub(crate) async fn message(
    State(state): St,
    SignedIn(v): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (st, actor, qid) = (state.clone(), v.actor(), id.clone());
    let view = match blocking(move || st.review().view(&actor, &qid, st.live().rules())).await {
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
            subject: shown_subject(&h.subject, &live.config().policy.subject_prefix),
            arrives: arrives(live.config()),
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
            score: score_line(h.score, live.config().policy.quarantine),
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
                        line(&palisade_queue::decode_header(val)).into_owned(),
                    )
                })
                .collect(),
            history: history_rows(&view.audit),
        },
    )
}

/// The confirmation of a release or a delete: who will receive it (or what goes), asked
/// before anything is sent or removed.
pub(crate) async fn confirm(
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
        && live.config().web.dual_control
        && explain::explain(None, &held.symbols, None, live.rules()).threat;
    html(
        StatusCode::OK,
        ConfirmPage {
            nav: Nav::of(v),
            csrf: v.csrf.clone(),
            id: held.queue_id.clone(),
            action: action.into(),
            subject: shown_subject(&held.subject, &live.config().policy.subject_prefix),
            from: line(&held.from).into_owned(),
            sender: envelope(&held.sender),
            recipients: recipients.iter().map(|r| line(r).into_owned()).collect(),
            reason: line(&reason).into_owned(),
            arrives: arrives(live.config()),
            dual_control,
        },
    )
}

pub(crate) fn stale() -> HashMap<String, String> {
    HashMap::from([("done".to_string(), "stale".to_string())])
}

pub(crate) async fn act(
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
    match state.perform(v.actor(), id.clone(), act).await {
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

pub(crate) async fn export(
    State(state): St,
    SignedIn(v): SignedIn,
    Path(id): Path<String>,
) -> Response {
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
            .export(&actor, &qid, st.live().rules(), &st.reporter)
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
