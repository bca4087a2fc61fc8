//! From a verdict to what Postfix is told at end of message: header changes, quarantine,
//! reject, and the final reply.

use palisade_auth::{authentication_results, authserv_id_of};
use palisade_engine::{Action, Verdict};
use palisade_milter::reply::reply_text;
use palisade_milter::{Actions, Message, Reply, Session};

use crate::scan::Scanned;
use palisade_config::{Mode, PolicyConfig};

/// Headers Palisade writes. Inbound copies are removed before ours are added, so a sender
/// can never pass its own as ours. `X-Palisade-Released` (on a copy a reviewer
/// released, see [`palisade_queue::ReleaseNote`]) is removed from scanned mail only:
/// the released copy re-enters Postfix through sendmail, from a trusted client, and
/// keeps it.
pub const OWNED_HEADERS: [&str; 7] = [
    "X-Palisade-Result",
    "X-Palisade-External",
    "X-Palisade-Released",
    "X-Spam-Flag",
    "X-Spam-Status",
    "X-Spam-Score",
    "X-Spam-Level",
];

/// Inbound copies of our headers removed per message at most. More than that is no
/// mail client's doing: such a message is held for review instead of passed on with
/// copies left in.
pub const MAX_HEADER_DELETIONS: usize = 256;

/// Whether a message must be held because part of its header went unseen: more copies
/// of our headers than can be removed, or header fields past `milter.max_headers` (a
/// From, a signature or a forged Authentication-Results among them would go unjudged).
pub(crate) fn header_not_fully_seen(message: &Message, authserv_id: &str) -> bool {
    if message.watched_overflow || message.headers_capped {
        return true;
    }
    // Fewer fields than the cap cannot hold more copies than it.
    if message.headers.len() <= MAX_HEADER_DELETIONS {
        return false;
    }
    let ours = authserv_id.to_ascii_lowercase();
    let n = message
        .headers
        .iter()
        .filter(|(n, v)| {
            OWNED_HEADERS.iter().any(|o| n.eq_ignore_ascii_case(o))
                || (n.eq_ignore_ascii_case("Authentication-Results")
                    && authserv_id_of(&String::from_utf8_lossy(v)).as_deref()
                        == Some(ours.as_str()))
        })
        .count();
    n > MAX_HEADER_DELETIONS
}

/// What is done with one message, after policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The verdict's action.
    pub verdict: Action,
    /// What was actually done (shadow mode and missing permissions weaken it).
    pub applied: Action,
}

/// The modifications and final reply for a scanned message, in the order they are sent.
pub fn replies(
    scanned: &Scanned,
    message: &Message,
    policy: &PolicyConfig,
    authserv_id: &str,
    session: &Session,
) -> (Vec<Reply>, Decision) {
    let verdict = &scanned.verdict;
    let (allowed, mut out) = start_replies(message, session, true);
    if allowed.contains(Actions::CHANGE_HEADERS) {
        remove_our_auth_results(message, authserv_id, &mut out);
    }
    let mut applied = verdict.action;
    if policy.mode == Mode::Shadow && applied > Action::Tag {
        applied = Action::Tag;
    }
    if header_not_fully_seen(message, authserv_id) && applied < Action::Quarantine {
        // Copies of our headers would be left in: held for review, never passed on.
        applied = Action::Quarantine;
    }
    if applied == Action::Quarantine && !allowed.contains(Actions::QUARANTINE) {
        applied = Action::Tag;
    }
    if allowed.contains(Actions::ADD_HEADERS) {
        let header = |name: &str, value: &str| Reply::AddHeader {
            name: name.as_bytes().to_vec(),
            value: session.header_value(value),
        };
        if scanned.auth.checked {
            let disposition = match applied {
                Action::Quarantine => "quarantine",
                Action::Reject => "reject",
                _ => "none",
            };
            let env = &message.envelope;
            out.push(Reply::InsertHeader {
                index: 0,
                name: b"Authentication-Results".to_vec(),
                value: session.header_value(&authentication_results(
                    authserv_id,
                    &scanned.auth,
                    &env.mail_from,
                    &env.helo,
                    disposition,
                )),
            });
        }
        out.push(header("X-Palisade-Result", &result_header(verdict)));
        if verdict.action >= Action::Tag {
            out.push(header("X-Spam-Flag", "YES"));
            out.push(header("X-Spam-Status", &spam_status(verdict)));
            out.push(header("X-Spam-Score", &format!("{:.2}", verdict.score)));
            let stars = (verdict.score.max(0.0) as usize).clamp(1, 50);
            out.push(header("X-Spam-Level", &"*".repeat(stars)));
        }
        let external = verdict.external == Some(true);
        if external && policy.external_header {
            out.push(header("X-Palisade-External", "yes"));
        }
        let mut prefixes = Vec::new();
        if verdict.action >= Action::Tag {
            prefixes.push(policy.subject_prefix.as_str());
        }
        if external {
            prefixes.push(policy.external_subject_prefix.as_str());
        }
        subject_prefix(message, &prefixes, session, allowed, &mut out);
    }
    let reason = reason(verdict);
    match applied {
        Action::Accept | Action::Tag => out.push(Reply::Continue),
        Action::Quarantine => {
            out.push(Reply::Quarantine(reason.into_bytes()));
            out.push(Reply::Continue);
        }
        Action::Reject => out.push(Reply::ReplyCode(
            reply_text(550, "5.7.1", &format!("Message refused: {reason}"))
                .unwrap_or_else(|| b"550 5.7.1 Message refused".to_vec()),
        )),
        Action::Tempfail => out.push(Reply::ReplyCode(
            reply_text(
                451,
                "4.7.1",
                "Message could not be scanned, try again later",
            )
            .unwrap_or_else(|| b"451 4.7.1 Try again later".to_vec()),
        )),
    }
    (
        out,
        Decision {
            verdict: verdict.action,
            applied,
        },
    )
}

/// What the MTA lets us do, and the first replies of every answer: deleting inbound
/// copies of our headers, which a sender must never pass off as ours.
fn start_replies(message: &Message, session: &Session, scanned: bool) -> (Actions, Vec<Reply>) {
    let allowed = session
        .negotiated()
        .map(|n| n.actions)
        .unwrap_or(Actions::NONE);
    let mut out = Vec::new();
    if allowed.contains(Actions::CHANGE_HEADERS) {
        remove_owned_headers(message, scanned, &mut out);
    }
    (allowed, out)
}

/// Our header a trusted or authenticated client's mail may carry: the mark a reviewer's
/// release puts on the copy it sends.
const RELEASED_HEADER: &str = "X-Palisade-Released";

/// The replies for a message that is not scanned (trusted network, authenticated
/// sender): inbound copies of our headers and Authentication-Results with our
/// authserv-id are still removed, then the message goes on.
pub(crate) fn unscanned_replies(
    message: &Message,
    authserv_id: &str,
    session: &Session,
) -> Vec<Reply> {
    let (allowed, mut out) = start_replies(message, session, false);
    if allowed.contains(Actions::CHANGE_HEADERS) {
        remove_our_auth_results(message, authserv_id, &mut out);
    }
    if header_not_fully_seen(message, authserv_id) && allowed.contains(Actions::QUARANTINE) {
        out.push(Reply::Quarantine(
            b"Palisade: header too large to judge (too many fields, or too many copies of its own headers)".to_vec(),
        ));
    }
    out.push(Reply::Continue);
    out
}

/// What is sent when scanning failed internally and `on_error = "accept"`: the message is
/// delivered, saying plainly that it was not scanned.
pub(crate) fn unscanned_accept(
    message: &Message,
    authserv_id: &str,
    session: &Session,
) -> Vec<Reply> {
    let (allowed, mut out) = start_replies(message, session, true);
    if allowed.contains(Actions::CHANGE_HEADERS) {
        remove_our_auth_results(message, authserv_id, &mut out);
    }
    if allowed.contains(Actions::ADD_HEADERS) {
        out.push(Reply::AddHeader {
            name: b"X-Palisade-Result".to_vec(),
            value: session.header_value("unscanned; internal error"),
        });
    }
    out.push(Reply::Continue);
    out
}

/// The reply for an internal error with `on_error = "tempfail"`.
pub fn tempfail() -> Reply {
    Reply::ReplyCode(
        reply_text(
            451,
            "4.7.1",
            "Message could not be scanned, try again later",
        )
        .unwrap_or_else(|| b"451 4.7.1 Try again later".to_vec()),
    )
}

/// Deletes inbound Authentication-Results that carry our authserv-id (forged: only we
/// write those) and keeps everyone else's, last occurrence first.
fn remove_our_auth_results(message: &Message, authserv_id: &str, out: &mut Vec<Reply>) {
    let ours = authserv_id.to_ascii_lowercase();
    let occurrences: Vec<u32> = message
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Authentication-Results"))
        .enumerate()
        .filter(|(_, (_, v))| {
            authserv_id_of(&String::from_utf8_lossy(v)).as_deref() == Some(ours.as_str())
        })
        .map(|(i, _)| i as u32 + 1)
        .take(MAX_HEADER_DELETIONS)
        .collect();
    for index in occurrences.into_iter().rev() {
        out.push(Reply::ChangeHeader {
            index,
            name: b"Authentication-Results".to_vec(),
            value: Vec::new(),
        });
    }
}

/// Deletes every inbound copy of our headers, last occurrence first so that the
/// per-name indexes of the ones still to delete do not shift.
fn remove_owned_headers(message: &Message, scanned: bool, out: &mut Vec<Reply>) {
    for owned in OWNED_HEADERS {
        if !scanned && owned == RELEASED_HEADER {
            continue;
        }
        // Every copy goes, however many: the session keeps at most max_headers of them
        // (watched headers past the cap included), so this is bounded too.
        let count = message
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(owned))
            .count()
            .min(MAX_HEADER_DELETIONS) as u32;
        for index in (1..=count).rev() {
            out.push(Reply::ChangeHeader {
                index,
                name: owned.as_bytes().to_vec(),
                value: Vec::new(),
            });
        }
    }
}

/// Puts `prefixes` in front of the Subject, each only if the Subject does not carry it
/// already (a reply or a resent message may): never tagged twice.
fn subject_prefix(
    message: &Message,
    prefixes: &[&str],
    session: &Session,
    allowed: Actions,
    out: &mut Vec<Reply>,
) {
    let prefixes: Vec<&str> = prefixes
        .iter()
        .copied()
        .filter(|p| !p.trim().is_empty())
        .collect();
    if prefixes.is_empty() {
        return;
    }
    let subject = message
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Subject"))
        .map(|(_, v)| String::from_utf8_lossy(v).trim_start().to_string());
    let current = subject.clone().unwrap_or_default();
    let mut added = String::new();
    for p in prefixes {
        if !current.contains(p.trim()) && !added.contains(p.trim()) {
            added.push_str(p);
        }
    }
    if added.is_empty() {
        return;
    }
    match subject {
        Some(_) if allowed.contains(Actions::CHANGE_HEADERS) => out.push(Reply::ChangeHeader {
            index: 1,
            name: b"Subject".to_vec(),
            value: session.header_value(&format!("{added}{current}")),
        }),
        Some(_) => {}
        None => out.push(Reply::AddHeader {
            name: b"Subject".to_vec(),
            value: session.header_value(added.trim()),
        }),
    }
}

/// `quarantine; score=12.50; VOTER_COERCION(8.00), THREAT_HARM(4.50)`
pub fn result_header(verdict: &Verdict) -> String {
    let mut s = format!("{}; score={:.2}", verdict.action.as_str(), verdict.score);
    if !verdict.symbols.is_empty() {
        s.push_str("; ");
        let list: Vec<String> = verdict
            .symbols
            .iter()
            .map(|sym| format!("{}({:.2})", sym.name, sym.score))
            .collect();
        s.push_str(&list.join(", "));
    }
    s
}

/// SpamAssassin's `Yes, score=7.30 required=5.00 tests=A,B`.
pub(crate) fn spam_status(verdict: &Verdict) -> String {
    let flagged = if verdict.action >= Action::Tag {
        "Yes"
    } else {
        "No"
    };
    let tests: Vec<&str> = verdict.symbols.iter().map(|s| s.name.as_str()).collect();
    let tests = if tests.is_empty() {
        "none".to_string()
    } else {
        tests.join(",")
    };
    format!(
        "{flagged}, score={:.2} required={:.2} tests={tests}",
        verdict.score,
        if verdict.required.is_finite() {
            verdict.required
        } else {
            0.0
        }
    )
}

/// A short reason naming the top symbols, safe for an SMTP reply or the quarantine log.
pub fn reason(verdict: &Verdict) -> String {
    let top: Vec<&str> = verdict
        .symbols
        .iter()
        .filter(|s| s.score > 0.0)
        .take(3)
        .map(|s| s.name.as_str())
        .collect();
    if top.is_empty() {
        format!("Palisade score {:.2}", verdict.score)
    } else {
        format!("Palisade score {:.2}: {}", verdict.score, top.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_milter::{client, Command, SessionConfig};

    fn negotiated_session() -> Session {
        let mut s = Session::new(SessionConfig::default());
        s.handle(Command::OptNeg(client::postfix_offer())).unwrap();
        s
    }

    #[test]
    fn internal_errors_never_pass_silently() {
        // on_error = "tempfail": the sender is told to retry.
        let Reply::ReplyCode(text) = tempfail() else {
            panic!("tempfail is not a reply code")
        };
        assert!(text.starts_with(b"451 4.7.1 "));
        // on_error = "accept": delivered, saying it was not scanned, and a forged
        // result header from the sender is still removed.
        let session = negotiated_session();
        let message = Message {
            headers: vec![("X-Palisade-Result".into(), b"accept; score=0.00".to_vec())],
            ..Message::default()
        };
        let replies = unscanned_accept(&message, "mx.test", &session);
        assert_eq!(
            replies,
            vec![
                Reply::ChangeHeader {
                    index: 1,
                    name: b"X-Palisade-Result".to_vec(),
                    value: Vec::new()
                },
                Reply::AddHeader {
                    name: b"X-Palisade-Result".to_vec(),
                    value: b" unscanned; internal error".to_vec()
                },
                Reply::Continue
            ]
        );
    }

    #[test]
    fn only_trusted_mail_keeps_the_release_mark() {
        let session = negotiated_session();
        let message = Message {
            headers: vec![
                (
                    "X-Palisade-Released".into(),
                    b"by clerk; t; warning marks removed".to_vec(),
                ),
                ("X-Spam-Flag".into(), b"YES".to_vec()),
            ],
            ..Message::default()
        };
        let removed = |replies: &[Reply]| -> Vec<String> {
            replies
                .iter()
                .filter_map(|r| match r {
                    Reply::ChangeHeader { name, value, .. } if value.is_empty() => {
                        Some(String::from_utf8_lossy(name).into_owned())
                    }
                    _ => None,
                })
                .collect()
        };
        // A reviewer's released copy, back from sendmail through a trusted client.
        let trusted = unscanned_replies(&message, "mx.test", &session);
        assert_eq!(removed(&trusted), vec!["X-Spam-Flag"]);
        // From anywhere else the mark is a forgery.
        let internal = unscanned_accept(&message, "mx.test", &session);
        assert_eq!(
            removed(&internal),
            vec!["X-Palisade-Released", "X-Spam-Flag"]
        );
    }
}
