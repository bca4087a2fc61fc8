//! The audit log, filtered and paged.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::store::{self};
use palisade_report::escape::line;

use super::common::*;

pub(crate) struct AuditRow {
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
pub(crate) struct AuditPage {
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

/// Audit entries per page.
pub(crate) const AUDIT_PAGE: usize = 100;

pub(crate) async fn audit(
    State(state): St,
    SignedIn(v): SignedIn,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| q.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let (from, to) = (param("from"), param("to"));
    let views = param("views") == "1";
    let mut errors = Vec::new();
    // The start of the day named in field `label`, `after` days on; empty when none.
    let mut day = |label: &str, d: &str, after: i64| {
        match d {
        "" => String::new(),
        d => day_start(d, after).unwrap_or_else(|| {
            errors.push(format!(
                "\u{201c}{label}\u{201d} must be a date such as 2026-11-03, not \u{201c}{}\u{201d}.",
                line(d)
            ));
            String::new()
        }),
    }
    };
    let since = day("From", &from, 0);
    let until = day("To", &to, 1);
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
