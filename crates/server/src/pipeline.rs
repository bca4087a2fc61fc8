//! One message's path through the daemon, as a short list of named stages:
//! authenticate -> scan -> count the campaign -> decide -> record, then the replies go
//! back to Postfix. Metrics and logs hang off the stages ([`observe`]), not inside them.
//! Mail from trusted clients and authenticated senders takes [`unscanned`] instead; a
//! scan that fails (a panic, a lost task) takes [`scan_failed`] and `[milter] on_error`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use palisade_engine::{Action, FromHeader};
use palisade_milter::{Message, Reply, Session};
use palisade_report::escape::Safe;
use palisade_report::AuthReport;
use tracing::{info, warn};

use crate::actions::{self, Decision};
use crate::live::{Live, Shared};
use crate::metrics::Metrics;
use crate::scan::{Scanned, Scanner};
use palisade_config::OnError;

/// Messages above this size are scanned on tokio's blocking pool, so that one large
/// message does not hold up the other connections served by the same worker thread.
const BLOCKING_SCAN_BYTES: usize = 256 * 1024;

/// A scan that did not finish: a panic or a lost task (logged where it happened).
struct ScanFailed;

/// Judges the message the session has just completed and writes Postfix's replies to
/// `out`. `trusted` names why the client is not scanned, when it is trusted.
pub(crate) async fn end_of_message(
    live: Arc<Live>,
    shared: &Shared,
    trusted: Option<&'static str>,
    session: &mut Session,
    out: &mut Vec<u8>,
) {
    let Some(message) = session.take_message() else {
        Reply::Continue.encode(out);
        return;
    };
    let started = Instant::now();
    let replies = if message.unscanned {
        unscanned(&live, &shared.metrics, trusted, &message, session)
    } else {
        let message = Arc::new(message);
        // One parse of From, read by authentication and the engine alike.
        let from = FromHeader::parse(&message.raw);
        let auth = authenticate(&live, &shared.metrics, &message, &from).await;
        let auth_time = started.elapsed();
        let scanned = scan(&live, shared, &message, from, auth).await;
        let scanned = count_campaign(&live, shared, &message, scanned).await;
        match scanned {
            Ok((scanned, campaign)) => {
                let (replies, decision) = decide(&live, &scanned, &message, session);
                record(shared, &message, &scanned, &decision, campaign);
                observe(
                    &shared.metrics,
                    &message,
                    &scanned,
                    &decision,
                    &replies,
                    started,
                    auth_time,
                );
                replies
            }
            Err(ScanFailed) => scan_failed(&live, &shared.metrics, &message, session),
        }
    };
    for r in replies {
        r.encode(out);
    }
}

/// Mail that is not scanned (a trusted client, an authenticated sender): nothing forged
/// passes as ours either, so Palisade's own header fields are still removed.
fn unscanned(
    live: &Live,
    metrics: &Metrics,
    trusted: Option<&'static str>,
    message: &Message,
    session: &Session,
) -> Vec<Reply> {
    let reason = trusted.unwrap_or("authenticated");
    metrics.messages.with_label_values(&["skipped"]).inc();
    metrics.unscanned.with_label_values(&[reason]).inc();
    let env = &message.envelope;
    let queue_id = env.queue_id.as_deref().unwrap_or("-");
    let replies = actions::unscanned_replies(message, live.scanner.authserv_id(), session);
    let removed = replies
        .iter()
        .filter(|r| matches!(r, Reply::ChangeHeader { .. }))
        .count();
    if removed > 0 {
        metrics
            .forged_removed
            .with_label_values(&["unscanned"])
            .inc_by(removed as u64);
    }
    info!(queue_id = %Safe(queue_id), client = %Safe(&env.client_addr), action = "skipped", reason, removed, "message not scanned");
    replies
}

/// SPF, DKIM, DMARC and ARC. Waits on DNS in this connection's own task: a slow resolver
/// holds up only this message. It runs here rather than in a task of its own (one spawn
/// and one cross-thread wake-up less per message); a panic inside it is caught like any
/// other internal error and comes back as its message.
async fn authenticate(
    live: &Live,
    metrics: &Metrics,
    message: &Message,
    from: &FromHeader,
) -> Result<AuthReport, String> {
    let Some(authenticator) = live.scanner.authenticator() else {
        return Ok(AuthReport::default());
    };
    let envelope = Scanner::envelope(message);
    let result = AssertUnwindSafe(live.scanner.authenticate(
        &message.raw,
        &envelope,
        from,
        message.truncated,
    ))
    .catch_unwind()
    .await
    .map_err(|panic| panic_message(panic.as_ref()));
    metrics.dns_up.set(i64::from(!authenticator.dns_down()));
    result
}

/// The content scan. It is CPU work: at most `scan_concurrency` at once, whatever the
/// number of connections; large messages go to the blocking pool, which never grows
/// past that either.
async fn scan(
    live: &Arc<Live>,
    shared: &Shared,
    message: &Arc<Message>,
    from: FromHeader,
    auth: Result<AuthReport, String>,
) -> Result<Scanned, ScanFailed> {
    let metrics = &shared.metrics;
    metrics.scans_waiting.inc();
    let permit = shared.scan_slots.acquire().await;
    metrics.scans_waiting.dec();
    match (auth, permit) {
        (_, Err(_)) => Err(ScanFailed),
        (Err(e), _) => {
            warn!(error = %e, "authentication failed internally (a panic)");
            Err(ScanFailed)
        }
        (Ok(report), Ok(_permit)) if message.raw.len() > BLOCKING_SCAN_BYTES => {
            let (live, message) = (live.clone(), message.clone());
            tokio::task::spawn_blocking(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    live.scanner.score_message(&message, from, report)
                }))
            })
            .await
            .map_err(|e| warn!(error = %e, "scan task failed"))
            .and_then(|r| r.map_err(|_| ()))
            .map_err(|()| ScanFailed)
        }
        (Ok(report), Ok(_permit)) => catch_unwind(AssertUnwindSafe(|| {
            live.scanner.score_message(message, from, report)
        }))
        .map_err(|_| ScanFailed),
    }
}

/// Campaigns: what other copies of this template showed, here and across the fleet
/// (waits at most `[state] timeout`; the message is judged without it otherwise). Comes
/// back with the campaign the copy belongs to, for [`record`].
async fn count_campaign(
    live: &Live,
    shared: &Shared,
    message: &Message,
    scanned: Result<Scanned, ScanFailed>,
) -> Result<(Scanned, Option<String>), ScanFailed> {
    let mut scanned = scanned?;
    let Some(campaigns) = shared
        .campaigns
        .as_ref()
        .filter(|_| live.config.campaign.enabled)
    else {
        return Ok((scanned, None));
    };
    let Some(fingerprint) = scanned.fingerprint.take() else {
        return Ok((scanned, None));
    };
    let env = &message.envelope;
    let from_domain = from_domain(&scanned, env).to_string();
    let outcome = campaigns
        .observe(
            message,
            &scanned.verdict,
            &fingerprint,
            &from_domain,
            live.config.campaign.min_recipients,
        )
        .await;
    scanned.verdict = live
        .scanner
        .rescore(scanned.verdict, outcome.symbols, &env.rcpt_to);
    if outcome.turned {
        campaigns.turned.notify_one();
    }
    Ok((scanned, outcome.campaign))
}

/// What to do with the message, and the header changes and final reply that do it.
fn decide(
    live: &Live,
    scanned: &Scanned,
    message: &Message,
    session: &Session,
) -> (Vec<Reply>, Decision) {
    actions::replies(
        scanned,
        message,
        &live.config.policy,
        live.scanner.authserv_id(),
        session,
    )
}

/// Keeps what later needs: the copy in its campaign, and the verdict of a held message
/// for reviewers (a record the recorder had to drop is counted).
fn record(
    shared: &Shared,
    message: &Message,
    scanned: &Scanned,
    decision: &Decision,
    campaign: Option<String>,
) {
    if let (Some(id), Some(campaigns)) = (campaign, &shared.campaigns) {
        campaigns.record(id, message, decision.applied.as_str());
    }
    if decision.applied != Action::Quarantine {
        return;
    }
    if let Some(recorder) = &shared.recorder {
        if !recorder.record(
            message,
            &scanned.verdict,
            &scanned.auth,
            decision.applied.as_str(),
        ) {
            shared
                .metrics
                .milter_errors
                .with_label_values(&["verdict_not_recorded"])
                .inc();
        }
    }
}

/// The metrics and the log line of a scanned message.
fn observe(
    metrics: &Metrics,
    message: &Message,
    scanned: &Scanned,
    decision: &Decision,
    replies: &[Reply],
    started: Instant,
    auth_time: Duration,
) {
    let removed = replies
        .iter()
        .filter(|r| matches!(r, Reply::ChangeHeader { value, .. } if value.is_empty()))
        .count();
    if removed > 0 {
        metrics
            .forged_removed
            .with_label_values(&["scanned"])
            .inc_by(removed as u64);
    }
    metrics.message(decision.applied.as_str(), &scanned.verdict, &scanned.auth);
    let total = started.elapsed();
    let d = &metrics.scan_duration;
    d.with_label_values(&["auth"])
        .observe(auth_time.as_secs_f64());
    d.with_label_values(&["content"])
        .observe(total.saturating_sub(auth_time).as_secs_f64());
    d.with_label_values(&["total"]).observe(total.as_secs_f64());
    let env = &message.envelope;
    let symbols: Vec<&str> = scanned
        .verdict
        .symbols
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    info!(
        queue_id = %Safe(env.queue_id.as_deref().unwrap_or("-")),
        client = %Safe(&env.client_addr),
        from = %Safe(&env.mail_from),
        from_domain = %Safe(from_domain(scanned, env)),
        action = decision.applied.as_str(),
        verdict = decision.verdict.as_str(),
        score = scanned.verdict.score,
        symbols = %Safe(&symbols.join(",")),
        spf = scanned.auth.spf.as_str(),
        dkim = scanned.auth.dkim.as_str(),
        dmarc = scanned.auth.dmarc.as_str(),
        dns_skipped = scanned.auth.dns.skipped,
        size = message.size,
        elapsed_us = started.elapsed().as_micros() as u64,
        "message scanned"
    );
}

/// A bug in a scan must not lose mail or pass it silently: `[milter] on_error` says
/// whether Postfix tries again later or the message goes through unscanned.
fn scan_failed(live: &Live, metrics: &Metrics, message: &Message, session: &Session) -> Vec<Reply> {
    let env = &message.envelope;
    let action = live.config.milter.on_error;
    warn!(queue_id = %Safe(env.queue_id.as_deref().unwrap_or("-")), client = %Safe(&env.client_addr), on_error = ?action, "internal error while scanning");
    metrics.milter_errors.with_label_values(&["scan"]).inc();
    match action {
        OnError::Tempfail => {
            metrics.messages.with_label_values(&["tempfail"]).inc();
            vec![actions::tempfail()]
        }
        OnError::Accept => {
            metrics.messages.with_label_values(&["accept"]).inc();
            actions::unscanned_accept(message, live.scanner.authserv_id(), session)
        }
    }
}

/// The sender's domain: the From header's as authentication found it, else the
/// envelope sender's.
fn from_domain<'a>(scanned: &'a Scanned, env: &'a palisade_milter::session::Envelope) -> &'a str {
    if scanned.auth.from_domain.is_empty() {
        env.mail_from.rsplit_once('@').map_or("", |(_, d)| d)
    } else {
        scanned.auth.from_domain.as_str()
    }
}

/// The text a panic carried, for the log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn a_panic_is_logged_with_its_message() {
        let text = std::panic::catch_unwind(|| panic!("resolver state broken")).unwrap_err();
        assert_eq!(panic_message(text.as_ref()), "resolver state broken");
        let formatted = std::panic::catch_unwind(|| panic!("lookup {} failed", "txt")).unwrap_err();
        assert_eq!(panic_message(formatted.as_ref()), "lookup txt failed");
        let other = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_message(other.as_ref()), "a panic without a message");
    }
}
