//! From verdict to action through a real Postfix: the hold queue and `palisade
//! quarantine`, reject, tagging once, shadow mode, and counts that add up.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use std::process::Command;
use std::time::Duration;

use palisade_config::{Config, Sources};
use palisade_e2e::dns::DnsServer;
use palisade_e2e::{fixture, palisade_bin, smtp_session, Outgoing, Postfix, PostfixConfig};
use palisade_server::{start, Running};

/// DNS for the tests: the 2020 sender's domain publishes SPF and DMARC p=reject; the
/// county's own domain has SPF for nobody but its server.
fn dns() -> DnsServer {
    palisade_e2e::dns::proud_boys().unwrap()
}

async fn daemon(dns: &DnsServer, adjust: impl FnOnce(&mut Config)) -> Running {
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.milter.shutdown_grace = Duration::from_secs(5);
    c.policy.trusted_networks.clear();
    c.dns.nameservers = vec![dns.nameserver()];
    c.dns.timeout = Duration::from_millis(500);
    c.auth.authserv_id = "mx.palisade.test".into();
    adjust(&mut c);
    start(c).await.unwrap()
}

fn quarantine(pf: &Postfix, args: &[&str]) -> std::process::Output {
    Command::new(palisade_bin().unwrap())
        .arg("quarantine")
        .args(args)
        .arg("--postfix-config")
        .arg(pf.config_dir())
        .output()
        .unwrap()
}

fn send_one(pf: &Postfix, from: &str, to: &str, data: &str) -> String {
    smtp_session(
        pf.smtp,
        &[Outgoing {
            from: from.into(),
            to: to.into(),
            data: data.into(),
        }],
    )
    .unwrap()
    .remove(0)
}

/// Sends our copy of the 2020 message; returns the reply to its end of DATA.
fn send_2020(pf: &Postfix) -> String {
    send_one(
        pf,
        "info@officialproudboys.test",
        "voter@county.example",
        &fixture("proud-boys-2020.eml"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2020_message_is_held_listed_and_released_once() {
    let dns = dns();
    let running = daemon(&dns, |_| {}).await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    let reply = send_2020(&pf);
    assert!(reply.starts_with("250"), "{reply}");
    let held = pf.wait_held(1, Duration::from_secs(30)).unwrap();
    assert_eq!(held.len(), 1);
    assert!(pf.delivered().is_empty());

    let out = quarantine(&pf, &["list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let item = &list[0];
    assert_eq!(item["queue_id"], held[0].as_str());
    assert_eq!(item["sender"], "info@officialproudboys.test");
    assert_eq!(item["recipients"][0], "voter@county.example");
    assert_eq!(
        item["subject"],
        "[SUSPECTED THREAT] Vote for Trump or else!"
    );
    assert!(item["score"].as_f64().unwrap() >= 10.0);
    let symbols = item["symbols"].to_string();
    assert!(
        symbols.contains("THREAT_PURSUIT") && symbols.contains("DMARC_POLICY_REJECT"),
        "{symbols}"
    );

    let out = quarantine(&pf, &["show", &held[0]]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("verdict:     quarantine;"), "{shown}");
    assert!(
        shown.contains("dmarc=fail (p=reject dis=quarantine)"),
        "{shown}"
    );
    assert!(shown.contains("we will come after you"), "{shown}");

    // The text listing works too, and an unknown id is a clear error.
    let out = quarantine(&pf, &["list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&held[0]));
    let out = quarantine(&pf, &["release", "ABCDEF0123"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no message ABCDEF0123 in the hold queue")
    );

    let out = quarantine(&pf, &["release", &held[0]]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delivered = pf.wait_delivered(1, Duration::from_secs(30)).unwrap();
    assert_eq!(delivered.len(), 1, "released exactly once");
    // Released without Palisade's warning marks, naming who released it.
    assert!(
        delivered[0].contains("X-Palisade-Released: by cli:"),
        "{}",
        delivered[0]
    );
    assert!(
        !delivered[0].contains("X-Palisade-Result: quarantine;")
            && delivered[0].contains("Subject: Vote for Trump or else!"),
        "{}",
        delivered[0]
    );
    assert!(pf.held().is_empty());
    // Releasing again is an error, not a second delivery.
    let out = quarantine(&pf, &["release", &held[0]]);
    assert_eq!(out.status.code(), Some(1));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pf.delivered().len(), 1);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_and_campaign_mail_is_delivered_untagged_and_a_tag_is_never_doubled() {
    let dns = dns();
    let running = daemon(&dns, |_| {}).await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    let ham: Vec<Outgoing> = [
        "ham-office-memo.eml",
        "ham-campaign-urgent.eml",
        "ham-training-bulletin.eml",
        "ham-news-report.eml",
    ]
    .iter()
    .map(|f| Outgoing {
        from: "news@county.example".into(),
        to: "staff@county.example".into(),
        data: fixture(f),
    })
    .collect();
    let replies = smtp_session(pf.smtp, &ham).unwrap();
    assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");
    let delivered = pf.wait_delivered(4, Duration::from_secs(30)).unwrap();
    for m in &delivered {
        assert!(
            m.contains("Authentication-Results: mx.palisade.test;"),
            "{m}"
        );
        assert!(m.contains("X-Palisade-Result: accept;"), "{m}");
        assert!(
            !m.contains("X-Spam-Flag") && !m.contains("[SUSPECTED THREAT]"),
            "{m}"
        );
    }

    // Authentication alone tags this one (DMARC p=reject fails): the subject gets the
    // prefix once, and a resent copy that already carries it does not get it again.
    let tagged = "From: Proud Boys <info@officialproudboys.test>\nTo: staff@county.example\nSubject: hello\n\nJust saying hello.\n";
    let resent = tagged.replace("Subject: hello", "Subject: [SUSPECTED THREAT] hello");
    for data in [tagged, resent.as_str()] {
        let r = send_one(
            &pf,
            "info@officialproudboys.test",
            "staff@county.example",
            data,
        );
        assert!(r.starts_with("250"), "{r}");
    }
    let delivered = pf.wait_delivered(6, Duration::from_secs(30)).unwrap();
    let tagged: Vec<&String> = delivered
        .iter()
        .filter(|m| m.contains("X-Spam-Flag: YES"))
        .collect();
    assert_eq!(tagged.len(), 2);
    for m in tagged {
        assert!(m.contains("Subject: [SUSPECTED THREAT] hello\n"), "{m}");
        assert_eq!(m.matches("[SUSPECTED THREAT]").count(), 1, "{m}");
    }
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_reject_configured_the_client_sees_550_and_the_reason() {
    let dns = dns();
    let running = daemon(&dns, |c| c.policy.reject = 20.0).await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    let reply = send_2020(&pf);
    assert!(
        reply.starts_with("550 5.7.1 Message refused: Palisade score"),
        "{reply}"
    );
    assert!(reply.contains("THREAT_PURSUIT"), "{reply}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(pf.delivered().is_empty() && pf.held().is_empty());
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_mode_delivers_the_threat_with_its_headers() {
    let dns = dns();
    let running = daemon(&dns, |c| c.policy.mode = palisade_config::Mode::Shadow).await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    let reply = send_2020(&pf);
    assert!(reply.starts_with("250"), "{reply}");
    let delivered = pf.wait_delivered(1, Duration::from_secs(30)).unwrap();
    assert!(pf.held().is_empty());
    let m = &delivered[0];
    assert!(m.contains("X-Palisade-Result: quarantine;"), "{m}");
    assert!(m.contains("X-Spam-Flag: YES"), "{m}");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_mixed_messages_over_ten_sessions_add_up() {
    let dns = dns();
    let running = daemon(&dns, |_| {}).await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    let threats = [
        "proud-boys-2020.eml",
        "family-extortion.eml",
        "obf-leet.eml",
        "obf-html-split.eml",
    ];
    let hams = [
        "ham-office-memo.eml",
        "ham-campaign-urgent.eml",
        "ham-news-report.eml",
        "ham-reply-quoted.eml",
    ];
    let mut expected_held = 0;
    let mut sessions = Vec::new();
    for s in 0..10 {
        let mut batch = Vec::new();
        for i in 0..10 {
            let n = s * 10 + i;
            let threat = n % 3 == 0;
            expected_held += usize::from(threat);
            let file = if threat {
                threats[n % threats.len()]
            } else {
                hams[n % hams.len()]
            };
            batch.push(Outgoing {
                from: format!("sender{n}@example.org"),
                to: "staff@county.example".into(),
                data: fixture(file).replace("Subject: ", &format!("Subject: #{n} ")),
            });
        }
        sessions.push(batch);
    }
    let server = pf.smtp;
    let handles: Vec<_> = sessions
        .into_iter()
        .map(|batch| std::thread::spawn(move || smtp_session(server, &batch).unwrap()))
        .collect();
    let replies: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(replies.len(), 100);
    assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");
    let held = pf
        .wait_held(expected_held, Duration::from_secs(60))
        .unwrap();
    let delivered = pf
        .wait_delivered(100 - expected_held, Duration::from_secs(60))
        .unwrap();
    assert_eq!(held.len(), expected_held);
    assert_eq!(delivered.len(), 100 - expected_held);
    assert_eq!(held.len() + delivered.len(), 100);
    let out = quarantine(&pf, &["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), expected_held);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_output_never_passes_a_senders_control_characters_to_the_terminal() {
    let dns = dns();
    let running = daemon(&dns, |_| {}).await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    // "Vote or else" ESC ] 0 ; pwned BEL CR LF "FAKE ROW" ESC [ 2 J, base64-encoded so
    // that Postfix passes it: the terminal would retitle, clear, and show a forged row.
    let evil = "Vote or else\u{1b}]0;pwned\u{7}\r\nFAKE ROW\u{1b}[2J";
    let encoded = format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(evil.as_bytes())
    );
    let data = fixture("proud-boys-2020.eml").replace(
        "Subject: Vote for Trump or else!",
        &format!("Subject: {encoded}"),
    );
    let reply = send_one(
        &pf,
        "info@officialproudboys.test",
        "voter@county.example",
        &data,
    );
    assert!(reply.starts_with("250"), "{reply}");
    let held = pf.wait_held(1, Duration::from_secs(30)).unwrap();
    for args in [vec!["list"], vec!["show", held[0].as_str()]] {
        let out = quarantine(&pf, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.stdout
                .iter()
                .any(|&b| b == 0x1b || b == 0x07 || b == b'\r'),
            "{args:?} printed raw control characters:\n{text:?}"
        );
        assert!(text.contains("\\e]0;pwned"), "{text}");
    }
    // One header line, then a row and a symbols line per held message: nothing forged.
    let out = quarantine(&pf, &["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(!text.lines().any(|l| l.starts_with("FAKE ROW")), "{text}");
    // JSON keeps the real characters, escaped by JSON itself.
    let out = quarantine(&pf, &["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(list[0]["subject"].as_str().unwrap().contains('\u{1b}'));
    running.shutdown().await.unwrap();
}
