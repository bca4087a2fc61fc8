//! Through a real Postfix: mail sent over SMTP passes Palisade and is delivered with our
//! header; with Palisade down, Postfix answers 4xx and nothing is lost.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use palisade_config::{Config, Sources};
use palisade_e2e::dns::DnsServer;
use palisade_e2e::{fixture, message_file, smtp_session, Outgoing, Postfix, PostfixConfig};
use palisade_server::{start, Running};

/// A daemon for Postfix: Postfix connects from 127.0.0.1, so the default trusted
/// networks (which would wave every message through unscanned) are emptied. It
/// authenticates against a DNS server of its own that knows no records (every check
/// ends `none` at once); the test keeps that server, which stops when dropped.
async fn daemon(listen: &str) -> (Running, DnsServer) {
    daemon_with(listen, |_| {}).await
}

async fn daemon_with(listen: &str, change: impl FnOnce(&mut Config)) -> (Running, DnsServer) {
    let dns = DnsServer::start(&["test", "example", "org", "net", "in-addr.arpa"], &[]).unwrap();
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.dns.nameservers = vec![dns.nameserver()];
    c.auth.authserv_id = "mx.palisade.test".into();
    c.milter.listen = listen.into();
    c.http.listen = "127.0.0.1:0".into();
    c.milter.socket_mode = "0666".into();
    c.milter.shutdown_grace = Duration::from_secs(5);
    c.policy.trusted_networks.clear();
    change(&mut c);
    (start(c).await.unwrap(), dns)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_over_several_sessions_is_delivered_with_our_header() {
    let (running, _dns) = daemon("inet:127.0.0.1:0").await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();

    // 12 messages over 3 concurrent SMTP sessions, several per session.
    let out = pf.smtp_source(3, 12).unwrap();
    assert!(out.status.success(), "{out:?}");
    // And one with a forged copy of our header, sent with swaks.
    let dir = tempfile::tempdir().unwrap();
    let forged = message_file(
        dir.path(),
        "forged.eml",
        "From: Clerk <clerk@county.example>\nTo: voter@example.net\nSubject: Ballot drop-off hours\nX-Palisade-Result: accept; score=-50.00; FORGED\nX-Spam-Status: No, score=-50\n\nDrop boxes close at 8 pm.\n",
    )
    .unwrap();
    let out = pf
        .swaks(&[
            "--from",
            "clerk@county.example",
            "--to",
            "voter@example.net",
            "--data",
            forged.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let delivered = pf.wait_delivered(13, Duration::from_secs(60)).unwrap();
    assert_eq!(delivered.len(), 13, "{delivered:#?}");
    for m in &delivered {
        assert_eq!(count(m, "X-Palisade-Result:"), 1, "{m}");
        // Inserted at the top: above every header the message came with, below only
        // the Received: lines of Postfix and of the sink.
        let ar = m
            .find("Authentication-Results: mx.palisade.test;")
            .expect("no A-R");
        let postfix_received = m
            .find("by mx.palisade.test (Postfix)")
            .expect("no Received");
        let first_original = m.find("\nFrom:").expect("no From");
        assert!(
            ar < postfix_received && postfix_received < first_original,
            "{m}"
        );
        assert!(m.contains("dmarc=none") && m.contains("spf=none"), "{m}");
        assert!(m.contains("X-Palisade-Result: accept; score=0.00"), "{m}");
        assert!(!m.contains("FORGED") && !m.contains("score=-50"), "{m}");
    }
    let ballots = delivered
        .iter()
        .filter(|m| m.contains("Ballot drop-off"))
        .count();
    assert_eq!(ballots, 1);
    // Postfix logged no milter trouble.
    let log = pf.maillog();
    assert!(!log.contains("milter") && !log.contains("warning"), "{log}");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_milter_works_through_postfix() {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = dir.path().join("palisade.sock");
    let (running, _dns) = daemon(&format!("unix:{}", sock.display())).await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    let out = pf.smtp_source(2, 4).unwrap();
    assert!(out.status.success(), "{out:?}");
    let delivered = pf.wait_delivered(4, Duration::from_secs(60)).unwrap();
    assert_eq!(delivered.len(), 4);
    assert!(delivered
        .iter()
        .all(|m| m.contains("X-Palisade-Result: accept")));
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_palisade_down_postfix_answers_4xx_and_keeps_nothing() {
    let (running, _dns) = daemon("inet:127.0.0.1:0").await;
    let milter = running.milter.postfix();
    let pf = Postfix::start(&PostfixConfig::with_milter(&milter)).unwrap();
    let send = |subject: &str| {
        pf.swaks(&[
            "--from",
            "sender@example.org",
            "--to",
            "clerk@county.example",
            "--header",
            &format!("Subject: {subject}"),
            "--body",
            "Where do I vote?",
        ])
        .unwrap()
    };
    let out = send("while up");
    assert!(out.status.success());
    pf.wait_delivered(1, Duration::from_secs(30)).unwrap();

    running.shutdown().await.unwrap();
    let out = send("while down");
    let dialogue = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{dialogue}");
    assert!(dialogue.contains("451 4.7.1"), "{dialogue}");
    // The sender keeps the message (it got a temporary failure): nothing was queued or
    // delivered in its place.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(pf.delivered().len(), 1);
    assert!(
        pf.queue_listing().trim().is_empty(),
        "{}",
        pf.queue_listing()
    );
}

/// Postfix streams a message's body without waiting for a reply to each chunk
/// (SMFIP_NR_BODY): a message far past the scan cap goes through in several body
/// packets that Palisade reads and drops, and the next message of the same SMTP session
/// is still judged in step with Postfix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_past_the_cap_streams_and_the_next_message_is_judged_in_step() {
    let (running, _dns) = daemon_with("inet:127.0.0.1:0", |c| {
        c.milter.max_message_size = 16 * 1024;
    })
    .await;
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    // About 300 KB: several body packets, each at most 65,535 bytes.
    let line = "The board met on Tuesday and approved the minutes of the last meeting.";
    let big = format!(
        "From: Clerk <clerk@example.net>\r\nSubject: minutes\r\n\r\n{}",
        format!("{line}\r\n").repeat(4_000)
    );
    let replies = smtp_session(
        pf.smtp,
        &[
            Outgoing {
                from: "clerk@example.net".into(),
                to: "voter@county.example".into(),
                data: big,
            },
            Outgoing {
                from: "info@officialproudboys.test".into(),
                to: "voter@county.example".into(),
                data: fixture("proud-boys-2020.eml"),
            },
        ],
    )
    .unwrap();
    assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");
    let delivered = pf.wait_delivered(1, Duration::from_secs(60)).unwrap();
    assert_eq!(delivered.len(), 1);
    let m = &delivered[0];
    // Judged on its first 16 KiB, and delivered whole.
    assert!(
        m.contains("MESSAGE_TRUNCATED"),
        "{}",
        &m[..m.len().min(2000)]
    );
    assert_eq!(count(m, line), 4_000);
    // The threat that followed on the same connection to Palisade is held.
    let held = pf.wait_held(1, Duration::from_secs(60)).unwrap();
    assert_eq!(held.len(), 1);
    // Postfix logged the hold and no milter trouble.
    let log = pf.maillog();
    let milter_lines: Vec<&str> = log.lines().filter(|l| l.contains("milter")).collect();
    assert_eq!(milter_lines.len(), 1, "{log}");
    assert!(milter_lines[0].contains("milter-hold"), "{log}");
    assert!(!log.contains("warning"), "{log}");
    running.shutdown().await.unwrap();
}
