//! Metrics, health endpoints and live reload, through real sockets.
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
use palisade_milter::client::{self, Connection, Envelope};
use palisade_milter::{Command, Reply};
use palisade_server::{start, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config() -> Config {
    let mut c = Config::load(&Sources::default()).unwrap();
    // Campaign state (key, saved store) in a directory of its own, not /var/lib.
    c.state.dir = state::state_dir();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.auth.enabled = false;
    // The reload test's message must score exactly its one rule (4.0) for the
    // thresholds it moves; the learned model would add to it.
    c.scores.insert("THREAT_MODEL".into(), 0.0);
    c
}

async fn get(running: &Running, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(running.http).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

async fn conn(running: &Running) -> MilterConnection<AnyStream> {
    conn_with(running, client::postfix_offer()).await
}

async fn conn_with(
    running: &Running,
    offer: palisade_milter::negotiate::OptNeg,
) -> MilterConnection<AnyStream> {
    let spec: SocketSpec = running.milter.postfix().parse().unwrap();
    let mut c = MilterConnection::open(AnyStream::connect(&spec).await.unwrap(), offer)
        .await
        .unwrap();
    let who = Connection {
        address: "192.0.2.44".into(),
        ..Connection::default()
    };
    c.connect_client(&who).await.unwrap();
    c
}

fn env(i: usize) -> Envelope {
    Envelope {
        mail_from: format!("s{i}@example.org"),
        rcpt_to: vec!["clerk@county.example".into()],
        queue_id: format!("M{i}"),
        auth_user: None,
    }
}

/// Whether the milter tagged the message (X-Spam-Flag added).
fn tagged(o: &palisade_milter::client::Outcome) -> bool {
    o.modifications
        .iter()
        .any(|m| matches!(m, Reply::AddHeader { name, .. } if name == b"X-Spam-Flag"))
}

const THREAT: &[u8] = b"Subject: vote\r\n\r\nYou will vote for Smith or we will come after you. We know where you live.\r\n";
const HAM: &[u8] = b"Subject: hours\r\n\r\nPolls open at 7.\r\n";

#[tokio::test]
async fn every_action_is_counted_and_endpoints_answer() {
    let running = start(config()).await.unwrap();
    assert_eq!(get(&running, "/healthz").await, (200, "ok\n".into()));
    assert_eq!(get(&running, "/readyz").await.0, 200);
    assert_eq!(get(&running, "/nope").await.0, 404);
    let mut c = conn(&running).await;
    for i in 0..3 {
        c.message(&env(i), &client::parse_message(HAM))
            .await
            .unwrap();
    }
    for i in 3..5 {
        let o = c
            .message(&env(i), &client::parse_message(THREAT))
            .await
            .unwrap();
        assert!(o
            .modifications
            .iter()
            .any(|m| matches!(m, Reply::Quarantine(_))));
    }
    let (status, m) = get(&running, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(value(&m, "palisade_messages_total{action=\"accept\"}"), 3.0);
    assert_eq!(
        value(&m, "palisade_messages_total{action=\"quarantine\"}"),
        2.0
    );
    assert_eq!(value(&m, "palisade_messages_total{action=\"reject\"}"), 0.0);
    assert_eq!(value(&m, "palisade_message_score_count"), 5.0);
    assert_eq!(
        value(
            &m,
            "palisade_symbol_hits_total{category=\"intimidation\",symbol=\"THREAT_PURSUIT\"}"
        ),
        2.0
    );
    assert_eq!(
        value(&m, "palisade_scan_duration_seconds_count{stage=\"total\"}"),
        5.0
    );
    assert_eq!(value(&m, "palisade_milter_connections_active"), 1.0);
    assert_eq!(value(&m, "palisade_milter_connections_total"), 1.0);
    assert_eq!(
        value(
            &m,
            &format!(
                "palisade_build_info{{commit=\"{}\",version=\"0.1.0\"}}",
                palisade_server::COMMIT
            )
        ),
        1.0
    );
    c.quit().await.unwrap();

    // A protocol error is counted by kind.
    let spec: SocketSpec = running.milter.postfix().parse().unwrap();
    let SocketSpec::Inet { host, port } = spec else {
        panic!()
    };
    let mut raw = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .unwrap();
    raw.write_all(b"\x00\x00\x00\x02Zz").await.unwrap();
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut sink)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, m) = get(&running, "/metrics").await;
    assert_eq!(
        value(&m, "palisade_milter_errors_total{kind=\"protocol\"}"),
        1.0
    );
    assert_eq!(value(&m, "palisade_milter_connections_active"), 0.0);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn reload_swaps_everything_at_once_or_nothing() {
    let running = start(config()).await.unwrap();
    // An MTA that waits for the body's reply: once the body is answered, the server
    // has surely read the message's start.
    let mut c = conn_with(&running, client::offer_waiting_for_body()).await;

    // A message begins under the old configuration...
    let mild = b"Subject: x\r\n\r\nYou will regret this.\r\n";
    let n = c.negotiated();
    let mut cmds = client::message_commands(&env(1), &client::parse_message(mild), &n);
    let eom = cmds.split_off(cmds.len() - 2);
    c.run(cmds).await.unwrap();

    // ...a reload with a lower tag threshold lands while it is in flight...
    let mut stricter = config();
    stricter.policy.tag = 3.0;
    stricter.milter.listen = "inet:127.0.0.1:1".into(); // cannot change live: kept
    running.reload(stricter).unwrap();

    // ...and it finishes under the configuration it started with (4.0 < tag 5).
    let o = c.run(eom).await.unwrap().unwrap();
    c.send(&[Command::Abort]).await.unwrap();
    assert!(!tagged(&o));
    // The next one is judged under the new one (4.0 >= tag 3).
    let o = c
        .message(&env(2), &client::parse_message(mild))
        .await
        .unwrap();
    assert!(tagged(&o));

    // An invalid configuration is refused whole; the running one stays.
    let mut broken = config();
    broken.policy.tag = 3.0;
    broken.rules.paths = vec!["/nonexistent/*.toml".into()];
    let err = running.reload(broken).unwrap_err();
    assert!(err.to_string().contains("matches no file"), "{err}");
    let o = c
        .message(&env(3), &client::parse_message(mild))
        .await
        .unwrap();
    assert!(tagged(&o));

    let (_, m) = get(&running, "/metrics").await;
    assert_eq!(
        value(&m, "palisade_config_reloads_total{result=\"success\"}"),
        1.0
    );
    assert_eq!(
        value(&m, "palisade_config_reloads_total{result=\"error\"}"),
        1.0
    );
    // The listener did not move.
    c.quit().await.unwrap();
    let _ = conn(&running).await;
    running.shutdown().await.unwrap();
}

/// The real binary: SIGHUP re-reads the file; a broken file keeps the old config.
#[tokio::test]
async fn sighup_reloads_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    let state = dir.path().join("state");
    let port = ports::free_port().unwrap();
    let http = ports::free_port().unwrap();
    let write = |tag: &str| {
        std::fs::write(
            &file,
            format!("[milter]\nlisten = \"inet:127.0.0.1:{port}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n[auth]\nenabled = false\n[policy]\ntag = {tag}\n[state]\ndir = \"{}\"\n", state.display()),
        )
        .unwrap()
    };
    write("5.0");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--config"])
        .arg(&file)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let metrics = || async move {
        for _ in 0..100 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", http)).await {
                s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).await.unwrap();
                return out;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no metrics endpoint");
    };
    metrics().await;
    let pid = child.id().unwrap().to_string();
    let hup = || {
        assert!(std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success())
    };
    // Polls /metrics until `series` appears, for at most 2.5 s.
    let counted = |series: &'static str| async move {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if metrics().await.contains(series) {
                return true;
            }
        }
        false
    };
    write("3.0");
    hup();
    assert!(
        counted("palisade_config_reloads_total{result=\"success\"} 1").await,
        "reload not counted"
    );
    std::fs::write(&file, "[policy]\ntag = \"high\"\n").unwrap();
    hup();
    assert!(
        counted("palisade_config_reloads_total{result=\"error\"} 1").await,
        "failed reload not counted"
    );
    // Still serving.
    let spec = SocketSpec::Inet {
        host: "127.0.0.1".into(),
        port,
    };
    let mut c = MilterConnection::open(
        AnyStream::connect(&spec).await.unwrap(),
        client::postfix_offer(),
    )
    .await
    .unwrap();
    c.connect_client(&Connection {
        address: "192.0.2.1".into(),
        ..Connection::default()
    })
    .await
    .unwrap();
    let o = c
        .message(
            &env(1),
            &client::parse_message(b"Subject: x\r\n\r\nYou will regret this.\r\n"),
        )
        .await
        .unwrap();
    assert!(tagged(&o), "tag 3.0 in force");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
}
