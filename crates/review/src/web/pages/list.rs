//! The list of held messages: filters, sorting, copies grouped.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::explain::{self, Band};
use crate::store::{self};
use palisade_report::escape::line;

use super::common::*;
use super::message::{notice_text, q_done_id};

pub(crate) struct Column {
    href: String,
    label: &'static str,
    arrow: &'static str,
}

pub(crate) struct Row {
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
pub(crate) struct Group {
    first: Row,
    rest: Vec<Row>,
}

#[derive(Template)]
#[template(path = "list.html")]
pub(crate) struct ListPage {
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

pub(crate) async fn list(
    State(state): St,
    SignedIn(v): SignedIn,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let st = state.clone();
    let done_id = q_done_id(&q);
    let result = blocking(move || {
        let review = st.review();
        let live = st.live();
        let rules = live.rules();
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
    let prefix = state.live().config().policy.subject_prefix.clone();
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
