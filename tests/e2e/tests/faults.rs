//! The fault matrix: through a real Postfix (milter_default_action = tempfail), every
//! message sent is delivered, held, still queued in Postfix, or was told to retry and is
//! then retried by the sender as a sending MTA would. None is lost. Each test prints its
//! row of the matrix in docs/operations.md:
//!
//!     cargo test -p palisade-e2e --test faults -- --nocapture --test-threads 1 | grep -o '| .*|$'
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_e2e::dns::{DnsServer, Record};
use palisade_e2e::faults::{messages, retry_all, send_all, tally, Daemon, Sent, Tally, Tracked};
use palisade_e2e::{fixture, Outgoing, Postfix, PostfixConfig};

fn postfix(milter: &str) -> Postfix {
    let mut c = PostfixConfig::with_milter(milter);
    c.extra = vec![
        "milter_connect_timeout = 5s".into(),
        "milter_command_timeout = 10s".into(),
        "milter_content_timeout = 20s".into(),
    ];
    Postfix::start(&c).unwrap()
}

const OFFLINE: &str = "[auth]\nenabled = false\n[policy]\ntrusted_networks = []\n";

fn threat() -> String {
    fixture("proud-boys-2020.eml")
}

/// Sends `msgs` while `fault` runs beside the sender, retries what was told to retry,
/// and counts where everything is.
fn run(pf: &Postfix, msgs: &[Tracked], fault: impl FnOnce(&Arc<Mutex<Sent>>) + Send) -> Tally {
    let sent = Arc::new(Mutex::new(Sent::default()));
    std::thread::scope(|s| {
        let sender = {
            let sent = sent.clone();
            s.spawn(move || send_all(pf.smtp, msgs, 4, &sent))
        };
        fault(&sent);
        sender.join().unwrap();
    });
    retry_all(pf.smtp, msgs, &sent, 20);
    let sent = sent.lock().unwrap().clone();
    tally(pf, msgs, &sent, Duration::from_secs(60))
}

#[track_caller]
fn check(fault: &str, t: &Tally) {
    println!("{}", t.row(fault));
    assert_eq!(t.lost, 0, "{fault}: lost messages: {t:?}");
    assert_eq!(
        t.delivered + t.held + t.deferred + t.refused + t.with_sender,
        t.sent,
        "{fault}: unaccounted messages: {t:?}"
    );
    assert_eq!(
        t.with_sender, 0,
        "{fault}: never accepted after retries: {t:?}"
    );
}

fn accepted(sent: &Arc<Mutex<Sent>>) -> usize {
    sent.lock().map(|s| s.accepted.len()).unwrap_or(0)
}

fn wait_accepted(sent: &Arc<Mutex<Sent>>, n: usize) {
    for _ in 0..600 {
        if accepted(sent) >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The harness reports a daemon that exits at start with its log, instead of waiting
/// out its readiness timeout (a restart after a kill retries on exactly that).
#[test]
fn a_daemon_that_exits_at_start_is_reported_with_its_log() {
    let err = match Daemon::start("max_connections = \"many\"", OFFLINE) {
        Ok(_) => panic!("a daemon with an invalid configuration started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("exited at start"), "{err}");
    assert!(
        err.contains("max_connections"),
        "the log names the setting: {err}"
    );
}

#[test]
fn palisade_killed_with_sigkill_under_load_and_restarted() {
    let mut d = Daemon::start("", OFFLINE).unwrap();
    let pf = postfix(&d.milter());
    let msgs = messages("sigkill", 60, &threat());
    let t = run(&pf, &msgs, |sent| {
        wait_accepted(sent, 15);
        d.kill9().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        d.restart().unwrap();
    });
    check("SIGKILL under load, restarted after 1 s", &t);
    assert!(t.held >= 1, "{t:?}");
}

#[test]
fn dns_server_killed_mid_run() {
    let mut dns = DnsServer::start(
        &["test", "example", "net", "in-addr.arpa"],
        &[Record::txt("example.net", "v=spf1 ip4:127.0.0.1 -all")],
    )
    .unwrap();
    let d = Daemon::start("", &format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout = \"500ms\"\nattempts = 1\n[auth]\ndeadline = \"2s\"\n[policy]\ntrusted_networks = []\n",
        dns.nameserver()
    ))
    .unwrap();
    let pf = postfix(&d.milter());
    let msgs = messages("dns-killed", 45, &threat());
    let t = run(&pf, &msgs, |sent| {
        wait_accepted(sent, 10);
        dns.stop();
    });
    check("DNS server killed mid-run", &t);
}

#[test]
fn smtp_clients_that_stall_or_vanish_mid_message() {
    let d = Daemon::start("", OFFLINE).unwrap();
    let pf = postfix(&d.milter());
    let msgs = messages("stall", 30, &threat());
    let mut stalled = Vec::new();
    let t = run(&pf, &msgs, |_| {
        for i in 0..10 {
            let mut s = std::net::TcpStream::connect(pf.smtp).unwrap();
            let _ = s.write_all(
                b"EHLO stall.example\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<voter@county.example>\r\nDATA\r\n",
            );
            std::thread::sleep(Duration::from_millis(200));
            let _ = s.write_all(b"Subject: half\r\n\r\nhalf a message");
            if i % 2 == 0 {
                stalled.push(s); // keeps the session open mid-DATA
            } // else dropped: the client vanishes mid-message
        }
    });
    check("SMTP clients stalling or vanishing mid-message", &t);
    drop(stalled);
}

#[test]
fn a_flood_of_connections_that_never_negotiate() {
    // Few slots, and silent sockets may wait the full default negotiation time: only
    // eviction makes room for Postfix.
    let d = Daemon::start("max_connections = 16", OFFLINE).unwrap();
    let pf = postfix(&d.milter());
    let msgs = messages("flood", 30, &threat());
    let mut flood = Vec::new();
    let t = run(&pf, &msgs, |_| {
        for _ in 0..300 {
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", d.port)) {
                flood.push(s);
            }
        }
    });
    check("300 milter connections that never negotiate", &t);
    drop(flood);
}

#[test]
fn a_sighup_storm_during_load() {
    let mut d = Daemon::start("", OFFLINE).unwrap();
    let pf = postfix(&d.milter());
    let msgs = messages("sighup", 45, &threat());
    let t = run(&pf, &msgs, |sent| {
        while accepted(sent) < 40 {
            let _ = d.hup();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    assert!(d.alive(), "the daemon died under SIGHUP:\n{}", d.log());
    check("SIGHUP every 20 ms during load", &t);
}

#[test]
fn adversarial_messages_through_postfix() {
    let mut d = Daemon::start("", OFFLINE).unwrap();
    let pf = postfix(&d.milter());
    let mut nested =
        String::from("Subject: nested\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for i in 0..100 {
        nested.push_str(&format!(
            "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
            i + 1
        ));
    }
    let mut flood = String::new();
    for _ in 0..3000 {
        flood.push_str("X-Spam-Flag: NO\r\n");
    }
    flood.push_str("Subject: flood\r\n\r\nhello\r\n");
    let bodies = [
        // The HTML that once panicked the engine.
        "Subject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<a title=\"\u{e9}"
            .to_string(),
        // Three megabytes of threat words: linear work, within the budget.
        format!(
            "Subject: long\r\n\r\n{}",
            "we will kill you all ".repeat(150_000)
        ),
        // Two From fields around a spoof.
        "From: Clerk <clerk@county.example>\r\nFrom: x@evil.test\r\nSubject: two\r\n\r\nhello\r\n"
            .to_string(),
        // Base64 that is not base64, NUL bytes, a bare CR.
        "Subject: b64\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!====\u{0}\u{0}\rzz\r\n"
            .to_string(),
        nested,
        flood,
    ];
    let msgs: Vec<Tracked> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let id = format!("adversarial-{i}");
            Tracked {
                id: id.clone(),
                out: Outgoing {
                    from: "x@evil.test".into(),
                    to: "voter@county.example".into(),
                    data: format!("X-Fault-Id: {id}\r\n{b}"),
                },
            }
        })
        .collect();
    let t = run(&pf, &msgs, |_| {});
    assert!(d.alive(), "the daemon died:\n{}", d.log());
    check(
        "adversarial inputs (HTML, 3 MB, two From, bad base64, deep MIME, 3,000 forged headers)",
        &t,
    );
    // The flood of our own headers is held, never passed on with copies left in.
    assert!(t.held >= 2, "{t:?}");
}
