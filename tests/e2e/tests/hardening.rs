//! What a sender or an outage must not be able to do to authentication: switch it off
//! with DKIM keys that never answer, hide a spoof behind a second From, fail genuine mail
//! by cutting it at the size limit or by spacing its headers, or stall every message
//! when DNS drops queries. Each against a real DNS server (unbound) or a socket that
//! swallows every query.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use palisade_config::{Config, Sources};
use palisade_e2e::dns::{BlackHole, DnsServer, Record};
use palisade_e2e::milter::{send, Answer};
use palisade_e2e::prometheus::http_get;
use palisade_e2e::signing::{dkim_record, dkim_sign, dkim_sign_simple, key};
use palisade_milter::Reply;
use palisade_server::{start, Running};

const COUNTY_MX: &str = "192.0.2.10";
const FOREIGN: &str = "203.0.113.66";

fn records() -> Vec<Record> {
    let county = key("county-s1.pkcs1.der").unwrap();
    vec![
        Record::txt("county.test", &format!("v=spf1 ip4:{COUNTY_MX} -all")),
        Record::txt("_dmarc.county.test", "v=DMARC1; p=reject"),
        dkim_record("county.test", "s1", &county),
        Record::txt("evil.test", "v=spf1 ip4:203.0.113.66 -all"),
        Record::txt("officialproudboys.test", "v=spf1 ip4:198.51.100.7 -all"),
        Record::txt("_dmarc.officialproudboys.test", "v=DMARC1; p=reject"),
    ]
}

fn config(nameserver: String, adjust: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.milter.shutdown_grace = Duration::from_secs(5);
    c.dns.nameservers = vec![nameserver];
    c.dns.timeout = Duration::from_millis(400);
    c.dns.attempts = 1;
    c.auth.deadline = Duration::from_secs(2);
    c.auth.authserv_id = "mx.palisade.test".into();
    c.protect.domains = vec!["county.test".into()];
    adjust(&mut c);
    c
}

async fn daemon(dns: &DnsServer, adjust: impl FnOnce(&mut Config)) -> Running {
    start(config(dns.nameserver(), adjust)).await.unwrap()
}

fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: clerk@county.test\r\nSubject: {subject}\r\nDate: Tue, 27 Oct 2026 10:00:00 -0400\r\nMessage-ID: <{}@test>\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    )
}

async fn go(running: &Running, ip: &str, mail_from: &str, raw: &str) -> Answer {
    send(&running.milter.postfix(), ip, mail_from, raw.as_bytes())
        .await
        .unwrap()
}

#[track_caller]
fn has(a: &Answer, header: &str, needle: &str) {
    let v = a.header(header).unwrap_or_default();
    assert!(v.contains(needle), "no {needle:?} in {header}:\n{v}");
}

fn metric(running: &Running, name: &str) -> f64 {
    let (_, body) = http_get(running.http, "/metrics").unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dkim_key_that_never_answers_does_not_switch_off_spoof_detection() {
    // hang._domainkey.county.test is never answered.
    let dns = DnsServer::start_with(
        &["test", "in-addr.arpa"],
        &["hang._domainkey.county.test"],
        &records(),
    )
    .unwrap();
    let running = daemon(&dns, |_| {}).await;
    let spoof = dkim_sign(
        &message("Clerk <clerk@county.test>", "Notice", "Polls close at 8."),
        "county.test",
        "hang",
        key("county-s1.pkcs1.der").unwrap(),
    )
    .unwrap();
    let a = go(&running, FOREIGN, "clerk@county.test", &spoof).await;
    // SPF's failure is kept, DMARC cannot conclude, and our own domain unverified is
    // scored: no free pass.
    has(&a, "Authentication-Results", "spf=fail");
    has(&a, "Authentication-Results", "dkim=temperror");
    has(&a, "Authentication-Results", "dmarc=temperror");
    has(&a, "X-Palisade-Result", "PROTECTED_DOMAIN_UNVERIFIED");
    has(&a, "X-Palisade-Result", "R_SPF_FAIL");
    let result = a.header("X-Palisade-Result").unwrap();
    assert!(!result.starts_with("accept"), "{result}");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_that_hang_cannot_turn_every_result_into_temperror() {
    let dns = DnsServer::start_with(
        &["test", "in-addr.arpa"],
        &[
            "a._domainkey.officialproudboys.test",
            "b._domainkey.officialproudboys.test",
            "c._domainkey.officialproudboys.test",
        ],
        &records(),
    )
    .unwrap();
    let running = daemon(&dns, |c| c.auth.max_dkim_signatures = 2).await;
    let mut raw = message(
        "Proud Boys <info@officialproudboys.test>",
        "Vote",
        "You will vote for Trump on Election Day or we will come after you.",
    );
    for selector in ["a", "b", "c"] {
        raw = dkim_sign(
            &raw,
            "officialproudboys.test",
            selector,
            key("county-s1.pkcs1.der").unwrap(),
        )
        .unwrap();
    }
    let a = go(&running, FOREIGN, "info@officialproudboys.test", &raw).await;
    // The lookups ran side by side within their budget: SPF, which needed no hanging
    // name, kept its answer; the signature past the cap was not tried.
    has(&a, "Authentication-Results", "spf=fail");
    has(&a, "Authentication-Results", "dkim=temperror");
    has(&a, "X-Palisade-Result", "R_SPF_FAIL");
    let ar = a.header("Authentication-Results").unwrap();
    assert_eq!(ar.matches("dkim=").count(), 2, "{ar}");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_from_never_hides_a_spoof() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, |_| {}).await;
    let body = "Your ballot was rejected. Reply with your date of birth.";
    let spoof = message("Clerk <clerk@county.test>", "Ballot", body);
    let alone = go(&running, FOREIGN, "clerk@county.test", &spoof).await;
    assert!(
        alone.quarantined(),
        "{:?}",
        alone.header("X-Palisade-Result")
    );
    let after = spoof.replacen("To:", "From: x@evil.test\r\nTo:", 1);
    let before = format!("From: x@evil.test\r\n{spoof}");
    let one_field = spoof.replacen(
        "From: Clerk <clerk@county.test>",
        "From: x@evil.test, Clerk <clerk@county.test>",
        1,
    );
    for raw in [after, before, one_field] {
        let a = go(&running, FOREIGN, "x@evil.test", &raw).await;
        has(&a, "X-Palisade-Result", "MULTIPLE_FROM");
        has(&a, "X-Palisade-Result", "PROTECTED_DOMAIN_SPOOF");
        has(&a, "Authentication-Results", "header.from=county.test");
        assert!(a.quarantined(), "{:?}", a.header("X-Palisade-Result"));
    }
    let nameless = "From: clerk\r\nTo: clerk@county.test\r\nSubject: hi\r\n\r\nhello\r\n";
    let a = go(&running, FOREIGN, "x@evil.test", nameless).await;
    has(&a, "X-Palisade-Result", "FROM_WITHOUT_DOMAIN");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_mail_is_not_failed_by_the_size_limit_or_by_its_header_spacing() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, |c| c.milter.max_message_size = 4096).await;
    let county = || key("county-s1.pkcs1.der").unwrap();
    // A long message, signed, forwarded from elsewhere: SPF fails, and only the first
    // 4 KiB are kept. Its body cannot match the signed hash, which is not a failure.
    let long = dkim_sign(
        &message(
            "Clerk <clerk@county.test>",
            "Minutes",
            &"The board met and approved the minutes. ".repeat(500),
        ),
        "county.test",
        "s1",
        county(),
    )
    .unwrap();
    let a = go(&running, FOREIGN, "clerk@county.test", &long).await;
    has(&a, "X-Palisade-Result", "MESSAGE_TRUNCATED");
    has(&a, "Authentication-Results", "dkim=temperror");
    let result = a.header("X-Palisade-Result").unwrap();
    assert!(!result.contains("PROTECTED_DOMAIN_SPOOF"), "{result}");
    assert!(!a.quarantined(), "{result}");
    // The same long message with a signed header altered: the signature over the
    // headers can still be checked, and fails. Cutting the body excuses nothing.
    let forged = long.replacen("Subject: Minutes", "Subject: Minutes (corrected)", 1);
    let a = go(&running, FOREIGN, "clerk@county.test", &forged).await;
    has(&a, "Authentication-Results", "dkim=fail");
    has(&a, "Authentication-Results", "dmarc=fail");
    has(&a, "X-Palisade-Result", "PROTECTED_DOMAIN_SPOOF");

    // Headers verified as received: c=simple counts the spaces after each colon.
    let spaced = "From:Clerk <clerk@county.test>\r\nTo:  clerk@county.test\r\nSubject:\tCanvass\r\nDate: Tue, 27 Oct 2026 10:00:00 -0400\r\nMessage-ID: <canvass@test>\r\n\r\nThe canvass starts Monday.\r\n";
    let signed = dkim_sign_simple(spaced, "county.test", "s1", county()).unwrap();
    let a = go(&running, FOREIGN, "clerk@county.test", &signed).await;
    has(&a, "Authentication-Results", "dkim=pass");
    has(&a, "Authentication-Results", "dmarc=pass");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_results_with_a_leading_comment_are_removed() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, |_| {}).await;
    let raw = format!(
        "Authentication-Results: (forged) mx.palisade.test; dmarc=pass header.from=county.test\r\nAuthentication-Results: \"mx.palisade.test\"; dkim=pass\r\nAuthentication-Results: relay.example.org; spf=pass\r\n{}",
        message("Clerk <clerk@county.test>", "hi", "hello")
    );
    let a = go(&running, FOREIGN, "clerk@county.test", &raw).await;
    let deleted: Vec<_> = a
        .deleted()
        .into_iter()
        .filter(|(n, _)| n == "Authentication-Results")
        .collect();
    assert_eq!(
        deleted,
        vec![
            ("Authentication-Results".to_string(), 2),
            ("Authentication-Results".to_string(), 1)
        ]
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_dns_drops_every_query_mail_is_judged_without_waiting_for_it() {
    let hole = BlackHole::new().unwrap();
    let running = start(config(format!("127.0.0.1:{}", hole.port), |_| {}))
        .await
        .unwrap();
    let threat = message(
        "X <x@evil.test>",
        "Vote",
        "You will vote for Trump on Election Day or we will come after you.",
    );
    // The first message waits out its lookups and asks whether the resolver is up; the
    // probe gets no answer, and from then on checks are not tried.
    let mut results = Vec::new();
    for _ in 0..8 {
        results.push(go(&running, FOREIGN, "x@evil.test", &threat).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for a in &results {
        has(a, "Authentication-Results", "spf=temperror");
        has(a, "X-Palisade-Result", "THREAT");
        assert_ne!(a.reply, Reply::Continue, "a threat went through");
    }
    assert_eq!(metric(&running, "palisade_dns_resolver_up"), 0.0);
    let skipped = metric(&running, "palisade_auth_dns_skipped_total");
    assert!(skipped >= 5.0, "only {skipped} of 8 messages skipped DNS");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_dns_server_comes_back_authentication_resumes() {
    let mut dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, |_| {}).await;
    let plain = message("X <x@evil.test>", "Hello", "Minutes attached.");
    dns.stop();
    for _ in 0..4 {
        go(&running, FOREIGN, "x@evil.test", &plain).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(metric(&running, "palisade_dns_resolver_up"), 0.0);
    dns.restart().unwrap();
    // Probes go out as mail arrives; the breaker closes once one is answered.
    let mut resumed = None;
    for _ in 0..100 {
        let a = go(&running, FOREIGN, "x@evil.test", &plain).await;
        if a.header("Authentication-Results")
            .is_some_and(|v| v.contains("spf=pass"))
        {
            resumed = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(resumed.is_some(), "authentication never resumed");
    assert_eq!(metric(&running, "palisade_dns_resolver_up"), 1.0);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_dns_cache() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let config = config(dns.nameserver(), |_| {});
    let running = start(config.clone()).await.unwrap();
    let raw = message("Clerk <clerk@county.test>", "hi", "hello");
    let sent = || metric(&running, "palisade_dns_queries_total{result=\"sent\"}");
    go(&running, COUNTY_MX, "clerk@county.test", &raw).await;
    let cold = sent();
    // Warm: what a repeat costs (names that do not exist are not cached by Palisade).
    go(&running, COUNTY_MX, "clerk@county.test", &raw).await;
    let warm = sent() - cold;
    assert!(warm < cold, "cold {cold}, warm {warm}");
    running.reload(config).unwrap();
    // The same lookups again after the reload cost what a warm repeat costs.
    let before = sent();
    let a = go(&running, COUNTY_MX, "clerk@county.test", &raw).await;
    has(&a, "Authentication-Results", "spf=pass");
    assert_eq!(sent() - before, warm, "a reload threw the DNS cache away");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_never_answers_does_not_excuse_a_forged_signature_beside_it() {
    let dns = DnsServer::start_with(
        &["test", "in-addr.arpa"],
        &["hang._domainkey.evil.test"],
        &records(),
    )
    .unwrap();
    let running = daemon(&dns, |_| {}).await;
    let signed = dkim_sign(
        &message("Clerk <clerk@county.test>", "Notice", "Polls close at 8."),
        "county.test",
        "s1",
        key("county-s1.pkcs1.der").unwrap(),
    )
    .unwrap();
    // The county's signature, then the body altered (it no longer verifies), and a
    // second signature whose key never answers.
    let forged = dkim_sign(
        &signed.replace("Polls close at 8.", "Polls close at 6."),
        "evil.test",
        "hang",
        key("county-s1.pkcs1.der").unwrap(),
    )
    .unwrap();
    let a = go(&running, FOREIGN, "clerk@county.test", &forged).await;
    has(&a, "Authentication-Results", "dmarc=fail");
    has(&a, "X-Palisade-Result", "PROTECTED_DOMAIN_SPOOF");
    assert!(a.quarantined(), "{:?}", a.header("X-Palisade-Result"));
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_from_domain_that_never_answers_does_not_shield_ours() {
    let dns = DnsServer::start_with(&["test", "in-addr.arpa"], &["slow.test"], &records()).unwrap();
    let running = daemon(&dns, |_| {}).await;
    let raw = message(
        "x@slow.test, Clerk <clerk@county.test>",
        "Ballot",
        "Your ballot was rejected.",
    );
    let a = go(&running, FOREIGN, "x@evil.test", &raw).await;
    has(&a, "Authentication-Results", "header.from=county.test");
    has(&a, "X-Palisade-Result", "PROTECTED_DOMAIN_SPOOF");
    has(&a, "X-Palisade-Result", "MULTIPLE_FROM");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_spf_check_that_times_out_is_not_a_dmarc_failure() {
    let mut recs = records();
    recs.push(Record::txt(
        "slowspf.test",
        "v=spf1 include:spf.hang.test -all",
    ));
    recs.push(Record::txt("_dmarc.slowspf.test", "v=DMARC1; p=reject"));
    let dns = DnsServer::start_with(&["test", "in-addr.arpa"], &["hang.test"], &recs).unwrap();
    let running = daemon(&dns, |_| {}).await;
    let raw = message("Clerk <clerk@slowspf.test>", "Notice", "Polls close at 8.");
    let a = go(&running, COUNTY_MX, "clerk@slowspf.test", &raw).await;
    has(&a, "Authentication-Results", "spf=temperror");
    has(&a, "Authentication-Results", "dmarc=temperror");
    assert!(
        !a.header("X-Palisade-Result")
            .unwrap_or_default()
            .contains("DMARC_POLICY_REJECT"),
        "{:?}",
        a.header("X-Palisade-Result")
    );
    running.shutdown().await.unwrap();
}
