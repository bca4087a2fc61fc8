//! The daemon in-process, spoken to over real sockets with the MTA-side client.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

// Shared with tests/e2e: one directory per test process, swept once the process is gone.
#[path = "../../../tests/e2e/src/state.rs"]
mod state;
// Shared with tests/e2e: ports below the kernel's ephemeral range, never handed out twice.
#[path = "../../../tests/e2e/src/ports.rs"]
mod ports;

use palisade_bench::{AnyStream, MilterConnection};
use palisade_config::socket::SocketSpec;
use palisade_config::{Config, Sources};
use palisade_milter::client::{self, Connection, Envelope, ParsedMessage};
use palisade_milter::negotiate::OptNeg;
use palisade_milter::{Command, Reply};
use palisade_server::{start, BoundAddr, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(listen: &str) -> Config {
    let mut c = Config::load(&Sources::default()).unwrap();
    // Campaign state (key, saved store) in a directory of its own, not /var/lib.
    c.state.dir = state::state_dir();
    c.milter.listen = listen.into();
    c.http.listen = "127.0.0.1:0".into();
    c.milter.shutdown_grace = Duration::from_secs(5);
    // These tests are about the protocol; authentication against a real DNS server is
    // tested in tests/e2e.
    c.auth.enabled = false;
    c
}

async fn daemon() -> Running {
    start(config("inet:127.0.0.1:0")).await.unwrap()
}

fn spec(r: &Running) -> SocketSpec {
    r.milter.postfix().parse().unwrap()
}

fn env(i: usize) -> Envelope {
    Envelope {
        mail_from: format!("sender{i}@example.org"),
        rcpt_to: vec!["clerk@county.example".into()],
        queue_id: format!("Q{i}"),
        auth_user: None,
    }
}

fn outside() -> Connection {
    Connection {
        address: "192.0.2.10".into(),
        ..Connection::default()
    }
}

fn msg(subject: &str) -> ParsedMessage {
    client::parse_message(
        format!(
            "From: Clerk <clerk@county.example>\r\nSubject: {subject}\r\n\r\nPolls open at 7.\r\n"
        )
        .as_bytes(),
    )
}

async fn open(spec: &SocketSpec) -> MilterConnection<AnyStream> {
    open_with(spec, client::postfix_offer()).await
}

async fn open_with(spec: &SocketSpec, offer: OptNeg) -> MilterConnection<AnyStream> {
    let stream = AnyStream::connect(spec).await.unwrap();
    let mut conn = MilterConnection::open(stream, offer).await.unwrap();
    assert_eq!(conn.connect_client(&outside()).await.unwrap(), None);
    conn
}

fn result_header(mods: &[Reply]) -> Option<String> {
    mods.iter().find_map(|m| match m {
        Reply::AddHeader { name, value } if name == b"X-Palisade-Result" => {
            Some(String::from_utf8_lossy(value).trim().to_string())
        }
        _ => None,
    })
}

#[tokio::test]
async fn many_messages_per_connection_over_tcp_and_unix() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("milter.sock");
    for listen in [
        "inet:127.0.0.1:0".to_string(),
        format!("unix:{}", sock.display()),
    ] {
        let running = start(config(&listen)).await.unwrap();
        if let BoundAddr::Unix(p) = &running.milter {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o660);
        }
        let mut conn = open(&spec(&running)).await;
        let n = conn.negotiated();
        assert_eq!(n.version, 6);
        assert!(n.leading_space());
        for i in 0..10 {
            let outcome = conn.message(&env(i), &msg(&format!("m{i}"))).await.unwrap();
            assert_eq!(outcome.reply, Reply::Continue, "{listen}");
            assert_eq!(
                result_header(&outcome.modifications).as_deref(),
                Some("accept; score=0.00")
            );
        }
        conn.quit().await.unwrap();
        running.shutdown().await.unwrap();
        assert!(!sock.exists() || listen.starts_with("inet"));
    }
}

#[tokio::test]
async fn stale_unix_socket_is_replaced_and_a_live_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("milter.sock");
    // A socket file nobody listens on, as a crashed run leaves it.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let listen = format!("unix:{}", sock.display());
    let running = start(config(&listen)).await.unwrap();
    let second = start(config(&listen)).await;
    assert!(second.is_err(), "a live socket must not be taken over");
    let mut conn = open(&spec(&running)).await;
    conn.message(&env(1), &msg("x")).await.unwrap();
    running.shutdown().await.unwrap();
    // Not a socket: refused.
    std::fs::write(&sock, "precious").unwrap();
    assert!(start(config(&listen)).await.is_err());
    assert_eq!(std::fs::read_to_string(&sock).unwrap(), "precious");
}

#[tokio::test]
async fn abort_mid_message_then_the_next_message_is_whole() {
    let running = daemon().await;
    let mut conn = open(&spec(&running)).await;
    let n = conn.negotiated();
    let mut cmds = client::message_commands(&env(1), &msg("first"), &n);
    cmds.truncate(cmds.len() - 4); // stop inside the headers
    assert_eq!(conn.run(cmds).await.unwrap(), None);
    conn.send(&[Command::Abort]).await.unwrap();
    let outcome = conn.message(&env(2), &msg("second")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn inbound_copies_of_our_headers_are_deleted_last_first() {
    let running = daemon().await;
    let mut conn = open(&spec(&running)).await;
    let raw = "X-Palisade-Result: accept; score=0.00\r\nSubject: x\r\nx-palisade-result: forged again\r\nX-Spam-Status: No, score=-100\r\n\r\nbody\r\n";
    let outcome = conn
        .message(&env(1), &client::parse_message(raw.as_bytes()))
        .await
        .unwrap();
    let deletes: Vec<(u32, String)> = outcome
        .modifications
        .iter()
        .filter_map(|m| match m {
            Reply::ChangeHeader { index, name, value } if value.is_empty() => {
                Some((*index, String::from_utf8_lossy(name).into_owned()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        deletes,
        vec![
            (2, "X-Palisade-Result".into()),
            (1, "X-Palisade-Result".into()),
            (1, "X-Spam-Status".into())
        ]
    );
    // Deletions come before our own header is added.
    let pos_add = outcome
        .modifications
        .iter()
        .position(|m| matches!(m, Reply::AddHeader { .. }))
        .unwrap();
    assert_eq!(pos_add, 3);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn trusted_networks_are_not_scanned_but_lose_forged_headers() {
    let mut c = config("inet:127.0.0.1:0");
    c.auth.authserv_id = "mx.palisade.test".into();
    let running = start(c).await.unwrap();
    let stream = AnyStream::connect(&spec(&running)).await.unwrap();
    let mut conn = MilterConnection::open(stream, client::postfix_offer())
        .await
        .unwrap();
    // 127.0.0.1 is in the default trusted_networks: the connection goes on (not
    // accepted wholesale), so its messages can still be cleaned.
    let outcome = conn.connect_client(&Connection::default()).await.unwrap();
    assert_eq!(outcome, None);
    let m = client::parse_message(
        b"Authentication-Results: (forged) mx.palisade.test; dmarc=pass\r\n\
X-Palisade-Result: accept; score=0.00\r\n\
Authentication-Results: other.example; spf=pass\r\n\
Subject: we will kill you\r\n\r\nwe will kill you all\r\n",
    );
    let outcome = conn.message(&env(1), &m).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    let changes: Vec<(u32, String)> = outcome
        .modifications
        .iter()
        .filter_map(|m| match m {
            Reply::ChangeHeader { index, name, value } if value.is_empty() => {
                Some((*index, String::from_utf8_lossy(name).into_owned()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (1, "X-Palisade-Result".into()),
            (1, "Authentication-Results".into())
        ]
    );
    // Not scanned: nothing of ours is added.
    assert!(result_header(&outcome.modifications).is_none());
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn authenticated_senders_are_not_scanned() {
    let running = daemon().await;
    let mut conn = open(&spec(&running)).await;
    let mut e = env(1);
    e.auth_user = Some("clerk".into());
    let outcome = conn.message(&e, &msg("mine")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    assert!(outcome.modifications.is_empty());
    running.shutdown().await.unwrap();
}

async fn raw_connection(spec: &SocketSpec) -> tokio::net::TcpStream {
    let SocketSpec::Inet { host, port } = spec else {
        panic!("tcp expected")
    };
    tokio::net::TcpStream::connect((host.as_str(), *port))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; fails if it does not within 5 s.
async fn expect_closed(mut s: tokio::net::TcpStream) {
    let mut sink = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut sink)).await;
    assert!(r.is_ok(), "server kept a broken connection open");
}

#[tokio::test]
async fn garbage_and_oversized_packets_close_only_that_connection() {
    let running = daemon().await;
    let spec = spec(&running);
    let mut good = open(&spec).await;

    let mut garbage = raw_connection(&spec).await;
    garbage.write_all(b"\x00\x00\x00\x05Zjunk").await.unwrap();
    expect_closed(garbage).await;

    let mut zero = raw_connection(&spec).await;
    zero.write_all(&[0, 0, 0, 0]).await.unwrap();
    expect_closed(zero).await;

    // Claims 4 GiB: refused at once, nothing allocated, no waiting for the data.
    let mut huge = raw_connection(&spec).await;
    huge.write_all(&[0xff, 0xff, 0xff, 0xf0, b'B'])
        .await
        .unwrap();
    expect_closed(huge).await;

    let mut before_optneg = raw_connection(&spec).await;
    let mut w = Vec::new();
    Command::Helo(b"x".to_vec()).encode(&mut w);
    before_optneg.write_all(&w).await.unwrap();
    expect_closed(before_optneg).await;

    let outcome = good.message(&env(1), &msg("still here")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_vanishing_mid_body_does_not_disturb_others() {
    let running = daemon().await;
    let spec = spec(&running);
    {
        let mut conn = open(&spec).await;
        let body = "x".repeat(200_000);
        let m = client::parse_message(format!("Subject: big\r\n\r\n{body}\r\n").as_bytes());
        let n = conn.negotiated();
        let mut cmds = client::message_commands(&env(1), &m, &n);
        cmds.truncate(cmds.len() - 5); // within the body
        let _ = conn.run(cmds).await;
        // Dropped here: the socket closes mid-message.
    }
    let mut conn = open(&spec).await;
    let outcome = conn.message(&env(2), &msg("after")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_at_once() {
    let running = daemon().await;
    let spec = spec(&running);
    let mut tasks = Vec::new();
    for c in 0..100 {
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = open(&spec).await;
            for i in 0..5 {
                let o = conn.message(&env(c * 10 + i), &msg("load")).await.unwrap();
                assert_eq!(o.reply, Reply::Continue);
            }
            conn.quit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    running.shutdown().await.unwrap();
}

/// Opens a connection (within 5 s, or fails with `why`) and has one message judged.
async fn served_promptly(spec: &SocketSpec, why: &str) {
    let mut conn = tokio::time::timeout(Duration::from_secs(5), open(spec))
        .await
        .expect(why);
    let outcome = conn.message(&env(9), &msg("served")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
}

#[tokio::test]
async fn a_full_server_closes_the_longest_idle_connection_for_a_new_one() {
    let mut c = config("inet:127.0.0.1:0");
    c.milter.max_connections = 1;
    let running = start(c).await.unwrap();
    let spec = spec(&running);
    // The first connection negotiated and now sits between messages.
    let first = open(&spec).await;
    // The second is accepted at once and served: the idle one makes room.
    served_promptly(&spec, "a new connection waited behind an idle one").await;
    drop(first);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_connection_inside_a_message_keeps_its_slot() {
    let mut c = config("inet:127.0.0.1:0");
    c.milter.max_connections = 1;
    c.milter.negotiate_timeout = Duration::from_millis(300);
    let running = start(c).await.unwrap();
    let spec = spec(&running);
    let mut first = open_with(&spec, client::offer_waiting_for_body()).await;
    // Mid-message: everything up to the body, no end of message yet.
    let m = msg("busy");
    let n = first.negotiated();
    let mut cmds = client::message_commands(&env(1), &m, &n);
    let rest = cmds.split_off(cmds.len() - 1);
    first.run(cmds).await.unwrap();
    // A newcomer finds no idle connection to replace and is closed after the wait.
    let s = raw_connection(&spec).await;
    expect_closed(s).await;
    // The busy connection finishes its message normally.
    let outcome = first.run(rest).await.unwrap().unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn silent_sockets_never_hold_every_slot() {
    let mut c = config("inet:127.0.0.1:0");
    c.milter.max_connections = 4;
    let running = start(c).await.unwrap();
    let spec = spec(&running);
    // Eight sockets that connect and say nothing (the default negotiation wait is 10 s).
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(raw_connection(&spec).await);
    }
    // A real client is still served at once, each silent socket making room in turn.
    served_promptly(&spec, "a client waited behind silent sockets").await;
    drop(silent);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_client_cannot_take_more_than_its_share() {
    let mut c = config("inet:127.0.0.1:0");
    c.milter.max_connections_per_client = 2;
    let running = start(c).await.unwrap();
    let spec = spec(&running);
    let _a = open(&spec).await;
    let _b = open(&spec).await;
    // A third from 127.0.0.1 is closed straight away ...
    expect_closed(raw_connection(&spec).await).await;
    // ... while another client address is served.
    let SocketSpec::Inet { port, .. } = &spec else {
        panic!("tcp expected")
    };
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let stream = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let mut other = MilterConnection::open(AnyStream::Tcp(stream), client::postfix_offer())
        .await
        .unwrap();
    assert_eq!(other.connect_client(&outside()).await.unwrap(), None);
    let outcome = other.message(&env(3), &msg("other client")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_the_message_in_flight_finish() {
    let running = daemon().await;
    let spec = spec(&running);
    let mut conn = open_with(&spec, client::offer_waiting_for_body()).await;
    let n = conn.negotiated();
    let mut cmds = client::message_commands(&env(1), &msg("in flight"), &n);
    let eom = cmds.split_off(cmds.len() - 2);
    assert_eq!(conn.run(cmds).await.unwrap(), None);
    let done = tokio::spawn(running.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!done.is_finished(), "shutdown did not wait for the message");
    let outcome = conn.run(eom).await.unwrap().unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    conn.send(&[Command::Abort]).await.unwrap();
    // Between messages now: the server closes the connection and finishes.
    tokio::time::timeout(Duration::from_secs(5), done)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn idle_connections_time_out() {
    let mut c = config("inet:127.0.0.1:0");
    c.milter.idle_timeout = Duration::from_millis(200);
    c.milter.negotiate_timeout = Duration::from_millis(200);
    let running = start(c).await.unwrap();
    // Never negotiates: closed after negotiate_timeout.
    let s = raw_connection(&spec(&running)).await;
    expect_closed(s).await;
    // Negotiates, then goes quiet: closed after idle_timeout.
    let mut conn = open(&spec(&running)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(conn.message(&env(1), &msg("too late")).await.is_err());
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_socket_that_never_negotiates_is_closed_long_before_idle_timeout() {
    let mut c = config("inet:127.0.0.1:0");
    c.milter.negotiate_timeout = Duration::from_millis(200);
    let running = start(c).await.unwrap();
    // The default idle_timeout is 10 minutes; expect_closed waits 5 s at most.
    let s = raw_connection(&spec(&running)).await;
    expect_closed(s).await;
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn inet6_loopback() {
    let running = start(config("inet6:[::1]:0")).await.unwrap();
    assert!(running.milter.postfix().starts_with("inet6:[::1]:"));
    let mut conn = open(&spec(&running)).await;
    let outcome = conn.message(&env(1), &msg("v6")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    running.shutdown().await.unwrap();
}

/// The real binary: SIGTERM drains and exits 0.
#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let port = ports::free_port().unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("serve")
        .env("PALISADE__MILTER__LISTEN", format!("inet:127.0.0.1:{port}"))
        .env("PALISADE__HTTP__LISTEN", "127.0.0.1:0")
        // No DNS from this test: the machine's resolver is not ours to query.
        .env("PALISADE__AUTH__ENABLED", "false")
        .env("PALISADE__LOGGING__FORMAT", "json")
        .env("PALISADE__STATE__DIR", state.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let spec = SocketSpec::Inet {
        host: "127.0.0.1".into(),
        port,
    };
    let mut conn = None;
    for _ in 0..100 {
        if let Ok(s) = AnyStream::connect(&spec).await {
            conn = Some(
                MilterConnection::open(s, client::postfix_offer())
                    .await
                    .unwrap(),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut conn = conn.expect("daemon did not start");
    assert_eq!(conn.connect_client(&outside()).await.unwrap(), None);
    let outcome = conn.message(&env(1), &msg("before TERM")).await.unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    // One JSON line per message, with the queue id and the action.
    let line = log
        .lines()
        .find(|l| l.contains("message scanned"))
        .unwrap_or_else(|| panic!("no message line in {log}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["queue_id"], "Q1");
    assert_eq!(v["action"], "accept");
    assert_eq!(v["client"], "192.0.2.10");
    assert!(log.contains("SIGTERM"), "{log}");
}

#[tokio::test]
async fn a_threat_is_quarantined_with_headers_and_a_tagged_subject() {
    let running = daemon().await;
    let mut conn = open(&spec(&running)).await;
    let raw = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/messages/family-voter-coercion.eml"),
    )
    .unwrap();
    let outcome = conn
        .message(&env(1), &client::parse_message(&raw))
        .await
        .unwrap();
    assert_eq!(outcome.reply, Reply::Continue);
    let mods = &outcome.modifications;
    let reason = mods
        .iter()
        .find_map(|m| match m {
            Reply::Quarantine(r) => Some(String::from_utf8_lossy(r).into_owned()),
            _ => None,
        })
        .expect("no quarantine");
    assert!(reason.contains("THREAT_PURSUIT"), "{reason}");
    let header = result_header(mods).unwrap();
    assert!(header.starts_with("quarantine; score="), "{header}");
    let added: Vec<String> = mods
        .iter()
        .filter_map(|m| match m {
            Reply::AddHeader { name, .. } => Some(String::from_utf8_lossy(name).into_owned()),
            _ => None,
        })
        .collect();
    for h in [
        "X-Spam-Flag",
        "X-Spam-Status",
        "X-Spam-Score",
        "X-Spam-Level",
    ] {
        assert!(added.iter().any(|a| a == h), "{h} missing: {added:?}");
    }
    let subject = mods.iter().find_map(|m| match m {
        Reply::ChangeHeader { name, value, .. } if name == b"Subject" => {
            Some(String::from_utf8_lossy(value).into_owned())
        }
        _ => None,
    });
    assert_eq!(subject.as_deref(), Some(" [SUSPECTED THREAT] your vote"));

    // Sent again with the prefix already there: not tagged twice.
    let again = String::from_utf8_lossy(&raw).replace(
        "Subject: your vote",
        "Subject: [SUSPECTED THREAT] your vote",
    );
    let outcome = conn
        .message(&env(2), &client::parse_message(again.as_bytes()))
        .await
        .unwrap();
    assert!(!outcome
        .modifications
        .iter()
        .any(|m| matches!(m, Reply::ChangeHeader { name, .. } if name == b"Subject")));
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_large_message_is_scanned_off_the_connection_thread() {
    let running = daemon().await;
    let mut conn = open(&spec(&running)).await;
    let filler = "The canvass board met and reviewed the provisional ballots.\r\n".repeat(8000);
    let raw = format!(
        "Subject: minutes\r\n\r\n{filler}You will vote for Smith or we will come after you.\r\n"
    );
    assert!(raw.len() > 400_000);
    let outcome = conn
        .message(&env(1), &client::parse_message(raw.as_bytes()))
        .await
        .unwrap();
    assert!(outcome
        .modifications
        .iter()
        .any(|m| matches!(m, Reply::Quarantine(_))));
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn external_senders_are_marked_when_asked() {
    let mut c = config("inet:127.0.0.1:0");
    c.protect.domains = vec!["county.example".into()];
    c.policy.external_header = true;
    c.policy.external_subject_prefix = "[EXTERNAL] ".into();
    let running = start(c).await.unwrap();
    let mut conn = open(&spec(&running)).await;
    let outside =
        client::parse_message(b"From: A <a@elsewhere.example>\r\nSubject: lunch\r\n\r\nhi\r\n");
    let o = conn.message(&env(1), &outside).await.unwrap();
    assert!(o.modifications.iter().any(|m| matches!(m,
        Reply::AddHeader { name, value } if name == b"X-Palisade-External" && value == b" yes")));
    assert!(o.modifications.iter().any(|m| matches!(m,
        Reply::ChangeHeader { name, value, .. } if name == b"Subject" && value == b" [EXTERNAL] lunch")));
    let inside = client::parse_message(
        b"From: Clerk <clerk@county.example>\r\nSubject: lunch\r\n\r\nhi\r\n",
    );
    let o = conn.message(&env(2), &inside).await.unwrap();
    assert!(!o.modifications.iter().any(|m| matches!(m,
        Reply::AddHeader { name, .. } if name == b"X-Palisade-External")));
    assert!(!o
        .modifications
        .iter()
        .any(|m| matches!(m, Reply::ChangeHeader { name, .. } if name == b"Subject")));
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_flood_of_forged_headers_is_held_with_deletions_capped() {
    let running = daemon().await;
    let mut conn = open(&spec(&running)).await;
    let mut raw = String::new();
    for _ in 0..300 {
        raw.push_str("X-Spam-Flag: NO\r\n");
    }
    raw.push_str("Subject: hello\r\n\r\nminutes attached\r\n");
    let outcome = conn
        .message(&env(1), &client::parse_message(raw.as_bytes()))
        .await
        .unwrap();
    let deletions = outcome
        .modifications
        .iter()
        .filter(|m| matches!(m, Reply::ChangeHeader { value, .. } if value.is_empty()))
        .count();
    assert_eq!(deletions, palisade_server::actions::MAX_HEADER_DELETIONS);
    assert!(
        outcome
            .modifications
            .iter()
            .any(|m| matches!(m, Reply::Quarantine(_))),
        "copies would be left in, so it must be held"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn header_count_is_capped_per_message() {
    let mut c = config("inet:127.0.0.1:0");
    c.milter.max_headers = 16;
    let running = start(c).await.unwrap();
    let mut conn = open(&spec(&running)).await;
    let mut raw = String::new();
    for i in 0..100 {
        raw.push_str(&format!("X-Filler-{i}: {i}\r\n"));
    }
    raw.push_str("Subject: hello\r\n\r\nminutes attached\r\n");
    let outcome = conn
        .message(&env(1), &client::parse_message(raw.as_bytes()))
        .await
        .unwrap();
    let result = result_header(&outcome.modifications).unwrap();
    assert!(result.contains("MESSAGE_TRUNCATED"), "{result}");
    // Fields past the cap went unseen (a From or a forged result could hide there):
    // held for review, never passed on.
    assert!(
        outcome
            .modifications
            .iter()
            .any(|m| matches!(m, Reply::Quarantine(_))),
        "{result}"
    );
    running.shutdown().await.unwrap();
}

/// The real binary under `Type=notify`: READY=1 once listening, WATCHDOG=1 at half of
/// WATCHDOG_USEC, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM.
#[test]
fn systemd_hears_ready_watchdog_reload_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let port = ports::free_port().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("serve")
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "200000")
        .env("PALISADE__MILTER__LISTEN", format!("inet:127.0.0.1:{port}"))
        .env("PALISADE__HTTP__LISTEN", "127.0.0.1:0")
        .env("PALISADE__AUTH__ENABLED", "false")
        .env("PALISADE__STATE__DIR", dir.path().join("state"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut next = || {
        let n = sock.recv(&mut buf).expect("a notification in time");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = next();
    assert!(first.lines().any(|l| l == "READY=1"), "{first}");
    // It listens by then.
    std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut pings = 0;
    while pings < 2 {
        let m = next();
        if m.lines().any(|l| l == "WATCHDOG=1") {
            pings += 1;
        }
    }
    let signal = |sig: &str| {
        assert!(std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success());
    };
    signal("HUP");
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|m: &String| m.lines().any(|l| l == "READY=1"))
    {
        let m = next();
        if !m.contains("WATCHDOG=1") {
            seen.push(m);
        }
    }
    assert!(seen[0].lines().any(|l| l == "RELOADING=1"), "{seen:?}");
    assert!(seen[0].contains("MONOTONIC_USEC="), "{seen:?}");
    signal("TERM");
    loop {
        let m = next();
        if m.lines().any(|l| l == "STOPPING=1") {
            break;
        }
    }
    assert!(child.wait().unwrap().success());
}
