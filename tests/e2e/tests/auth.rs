//! Authentication against a real DNS server (unbound) through `palisade serve` and a
//! milter client: SPF, DKIM, DMARC, ARC, the Authentication-Results header, and what
//! happens when DNS goes away.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::time::Duration;

use palisade_bench::{AnyStream, MilterConnection};
use palisade_config::socket::SocketSpec;
use palisade_config::{Config, Sources};
use palisade_e2e::dns::{DnsServer, Record};
use palisade_e2e::signing::{arc_seal, dkim_record, dkim_sign, key};
use palisade_milter::client::{self, Connection, Envelope};
use palisade_milter::Reply;
use palisade_server::{start, Running};

const COUNTY_MX: &str = "192.0.2.10";
const LIST_MX: &str = "192.0.2.50";
const FOREIGN: &str = "203.0.113.66";

fn records() -> Vec<Record> {
    let county = key("county-s1.pkcs1.der").unwrap();
    let list = key("list-arc.pkcs1.der").unwrap();
    vec![
        Record::txt("county.test", &format!("v=spf1 ip4:{COUNTY_MX} -all")),
        Record::txt("_dmarc.county.test", "v=DMARC1; p=reject"),
        dkim_record("county.test", "s1", &county),
        Record::txt("list.test", &format!("v=spf1 ip4:{LIST_MX} -all")),
        dkim_record("list.test", "arc", &list),
        Record::txt("officialproudboys.test", "v=spf1 ip4:198.51.100.7 -all"),
        Record::txt("_dmarc.officialproudboys.test", "v=DMARC1; p=reject"),
        Record::txt("soft.test", "v=spf1 ~all"),
        Record::txt("_dmarc.soft.test", "v=DMARC1; p=none"),
        Record::txt("quarantined.test", "v=spf1 -all"),
        Record::txt("_dmarc.quarantined.test", "v=DMARC1; p=quarantine"),
        Record::ptr4(COUNTY_MX, "mx.county.test"),
        Record::a("mx.county.test", COUNTY_MX),
    ]
}

async fn daemon(dns: &DnsServer, trusted_arc: &[&str]) -> Running {
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.milter.shutdown_grace = Duration::from_secs(5);
    c.dns.nameservers = vec![dns.nameserver()];
    c.dns.timeout = Duration::from_secs(2);
    c.dns.attempts = 1;
    c.auth.authserv_id = "mx.palisade.test".into();
    c.auth.trusted_arc_sealers = trusted_arc.iter().map(|s| s.to_string()).collect();
    c.protect.domains = vec!["county.test".into()];
    start(c).await.unwrap()
}

struct Result_ {
    reply: Reply,
    auth_results: String,
    palisade: String,
    deleted_auth_results: usize,
}

async fn send(running: &Running, ip: &str, mail_from: &str, raw: &str) -> Result_ {
    let a = palisade_e2e::milter::send(&running.milter.postfix(), ip, mail_from, raw.as_bytes())
        .await
        .unwrap();
    Result_ {
        auth_results: a.header("Authentication-Results").unwrap_or_default(),
        palisade: a.header("X-Palisade-Result").unwrap_or_default(),
        deleted_auth_results: a
            .deleted()
            .iter()
            .filter(|(n, _)| n == "Authentication-Results")
            .count(),
        reply: a.reply,
    }
}

/// Asserts that a header value contains `needle`, showing the whole value if not.
#[track_caller]
fn has(value: &str, needle: &str) {
    assert!(value.contains(needle), "no {needle:?} in:\n{value}");
}

fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: clerk@county.test\r\nSubject: {subject}\r\nDate: Tue, 27 Oct 2026 10:00:00 -0400\r\nMessage-ID: <{}@test>\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_pass_with_dkim_spf_and_dmarc() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, &[]).await;
    let raw = dkim_sign(
        &message(
            "Clerk <clerk@county.test>",
            "Canvass schedule",
            "The canvass starts Monday.",
        ),
        "county.test",
        "s1",
        key("county-s1.pkcs1.der").unwrap(),
    )
    .unwrap();
    let r = send(&running, COUNTY_MX, "clerk@county.test", &raw).await;
    assert!(
        r.auth_results.starts_with("mx.palisade.test;"),
        "{}",
        r.auth_results
    );
    assert!(
        r.auth_results
            .contains("spf=pass smtp.mailfrom=clerk@county.test"),
        "{}",
        r.auth_results
    );
    assert!(
        r.auth_results
            .contains("dkim=pass header.d=county.test header.s=s1 header.b="),
        "{}",
        r.auth_results
    );
    assert!(
        r.auth_results
            .contains("dmarc=pass header.from=county.test"),
        "{}",
        r.auth_results
    );
    has(&r.palisade, "R_SPF_ALLOW");
    has(&r.palisade, "R_DKIM_ALLOW");
    has(&r.palisade, "DMARC_POLICY_ALLOW");
    assert!(r.palisade.starts_with("accept;"), "{}", r.palisade);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2020_case_fails_spf_and_dmarc_and_is_quarantined() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, &[]).await;
    let body = "We are in possession of all your information. You will vote for Trump on Election Day or we will come after you.";
    let raw = message(
        "Proud Boys <info@officialproudboys.test>",
        "Vote for Trump or else!",
        body,
    );
    let r = send(&running, FOREIGN, "info@officialproudboys.test", &raw).await;
    has(&r.auth_results, "spf=fail");
    assert!(
        r.auth_results
            .contains("dmarc=fail (p=reject dis=quarantine) header.from=officialproudboys.test"),
        "{}",
        r.auth_results
    );
    has(&r.palisade, "DMARC_POLICY_REJECT(4.00)");
    has(&r.palisade, "R_SPF_FAIL(1.00)");
    assert!(matches!(r.reply, Reply::Quarantine(_)), "{:?}", r.reply);

    // Authentication alone (no threatening words): the strong DMARC symbol still tags it.
    let raw = message(
        "Proud Boys <info@officialproudboys.test>",
        "hello",
        "Just saying hello.",
    );
    let r = send(&running, FOREIGN, "info@officialproudboys.test", &raw).await;
    assert!(r.palisade.starts_with("tag;"), "{}", r.palisade);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_body_fails_dkim_and_spoofing_our_domain_is_caught() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, &[]).await;
    let signed = dkim_sign(
        &message(
            "Clerk <clerk@county.test>",
            "Results",
            "Turnout was 61 percent.",
        ),
        "county.test",
        "s1",
        key("county-s1.pkcs1.der").unwrap(),
    )
    .unwrap();
    let altered = signed.replace("61 percent", "16 percent");
    // From our own server: SPF passes and aligns, so DMARC passes despite DKIM.
    let r = send(&running, COUNTY_MX, "clerk@county.test", &altered).await;
    has(&r.auth_results, "dkim=fail header.d=county.test");
    has(&r.palisade, "R_DKIM_REJECT");
    // From elsewhere: SPF fails too, DMARC fails, and it is our own protected domain.
    let r = send(&running, FOREIGN, "clerk@county.test", &altered).await;
    has(&r.auth_results, "dmarc=fail");
    has(&r.palisade, "PROTECTED_DOMAIN_SPOOF(8.00)");
    assert!(matches!(r.reply, Reply::Quarantine(_)), "{}", r.palisade);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softfail_and_policies_short_of_reject() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, &[]).await;
    let r = send(
        &running,
        FOREIGN,
        "news@soft.test",
        &message("News <news@soft.test>", "news", "hi"),
    )
    .await;
    has(&r.auth_results, "spf=softfail");
    has(&r.palisade, "R_SPF_SOFTFAIL(0.50)");
    has(&r.palisade, "DMARC_POLICY_SOFTFAIL");
    let r = send(
        &running,
        FOREIGN,
        "a@quarantined.test",
        &message("A <a@quarantined.test>", "q", "hi"),
    )
    .await;
    has(&r.palisade, "DMARC_POLICY_QUARANTINE(2.50)");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_list_mail_with_a_trusted_arc_seal_passes() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let original = dkim_sign(
        &message(
            "Clerk <clerk@county.test>",
            "Meeting notes",
            "Notes attached.",
        ),
        "county.test",
        "s1",
        key("county-s1.pkcs1.der").unwrap(),
    )
    .unwrap();
    // The list adds a footer (breaking the author's DKIM) and seals what it sends on.
    let modified = original.replace(
        "Notes attached.\r\n",
        "Notes attached.\r\n--\r\nlist footer\r\n",
    );
    let sealed = arc_seal(
        &original,
        &modified,
        "list.test",
        "arc",
        key("list-arc.pkcs1.der").unwrap(),
        COUNTY_MX.parse::<IpAddr>().unwrap(),
        dns.addr,
    )
    .await
    .unwrap();

    let trusting = daemon(&dns, &["list.test"]).await;
    let r = send(&trusting, LIST_MX, "bounce@list.test", &sealed).await;
    has(&r.auth_results, "arc=pass");
    has(&r.auth_results, "dkim=fail");
    has(&r.palisade, "DMARC_ARC_OVERRIDE");
    assert!(
        !r.palisade.contains("PROTECTED_DOMAIN_SPOOF"),
        "{}",
        r.palisade
    );
    assert!(r.palisade.starts_with("accept;"), "{}", r.palisade);
    trusting.shutdown().await.unwrap();

    // Without the trust, the same message is a DMARC failure of our own domain.
    let wary = daemon(&dns, &[]).await;
    let r = send(&wary, LIST_MX, "bounce@list.test", &sealed).await;
    has(&r.palisade, "DMARC_POLICY_REJECT");
    has(&r.palisade, "PROTECTED_DOMAIN_SPOOF");
    wary.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_authentication_results_with_our_id_are_removed() {
    let dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, &[]).await;
    let raw = format!(
        "Authentication-Results: mx.palisade.test; dmarc=pass header.from=county.test\r\nAuthentication-Results: relay.example.org; spf=pass\r\n{}",
        message("Clerk <clerk@county.test>", "hi", "hello")
    );
    let r = send(&running, FOREIGN, "clerk@county.test", &raw).await;
    assert_eq!(r.deleted_auth_results, 1);
    has(&r.auth_results, "dmarc=fail");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_down_is_a_temporary_error_never_a_failure() {
    let mut dns = DnsServer::start(&["test", "in-addr.arpa"], &records()).unwrap();
    let running = daemon(&dns, &[]).await;
    dns.stop();
    let raw = message(
        "Clerk <clerk@county.test>",
        "Canvass",
        "The canvass starts Monday.",
    );
    let r = send(&running, FOREIGN, "clerk@county.test", &raw).await;
    has(&r.auth_results, "spf=temperror");
    has(&r.auth_results, "dmarc=temperror");
    has(&r.palisade, "R_SPF_DNSFAIL(0.00)");
    has(&r.palisade, "DMARC_DNSFAIL(0.00)");
    assert!(!r.palisade.contains("SPOOF"), "{}", r.palisade);
    assert!(r.palisade.starts_with("accept;"), "{}", r.palisade);
    assert_eq!(r.reply, Reply::Continue);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_dns_answer_holds_back_only_its_own_message() {
    // slow.test never answers (its queries go to a port where nobody listens).
    let dns = DnsServer::start_with(&["test", "in-addr.arpa"], &["slow.test"], &records()).unwrap();
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.dns.nameservers = vec![dns.nameserver()];
    c.dns.timeout = Duration::from_secs(1);
    c.dns.attempts = 1;
    c.auth.deadline = Duration::from_secs(2);
    c.auth.authserv_id = "mx.palisade.test".into();
    let running = start(c).await.unwrap();
    let slow_raw = message("A <a@slow.test>", "slow", "hello");
    let fast_raw = message("Clerk <clerk@county.test>", "fast", "hello");
    let started = std::time::Instant::now();
    let slow = {
        let running_addr = running.milter.postfix();
        tokio::spawn(async move {
            let spec: SocketSpec = running_addr.parse().unwrap();
            let stream = AnyStream::connect(&spec).await.unwrap();
            let mut conn = MilterConnection::open(stream, client::postfix_offer())
                .await
                .unwrap();
            let c = Connection {
                address: FOREIGN.into(),
                ..Connection::default()
            };
            conn.connect_client(&c).await.unwrap();
            let env = Envelope {
                mail_from: "a@slow.test".into(),
                rcpt_to: vec!["clerk@county.test".into()],
                queue_id: "SLOW".into(),
                auth_user: None,
            };
            conn.message(&env, &client::parse_message(slow_raw.as_bytes()))
                .await
                .unwrap();
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = send(&running, COUNTY_MX, "clerk@county.test", &fast_raw).await;
    let fast_done = started.elapsed();
    has(&r.auth_results, "spf=pass");
    let slow_done = slow.await.unwrap();
    // Ordering, not speed: the quick message finished while the slow one still waited.
    assert!(
        fast_done < slow_done,
        "fast {fast_done:?} slow {slow_done:?}"
    );
    running.shutdown().await.unwrap();
}
