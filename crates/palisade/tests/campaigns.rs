//! Campaigns with the embedded (memory) store, the daemon in-process: copies of one
//! template to different people join one campaign, a threatening one is held from
//! `min_recipients` on, the store is saved at shutdown without text or addresses, the
//! CLI reads it, and a restarted daemon goes on counting.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use palisade_bench::{AnyStream, MilterConnection};
use palisade_config::socket::SocketSpec;
use palisade_config::{Config, Sources};
use palisade_milter::client::{self, Connection, Envelope};
use palisade_milter::Reply;
use palisade_server::{start, Running};

fn config(state: &Path) -> Config {
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = state.to_path_buf();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.milter.shutdown_grace = Duration::from_secs(5);
    c.auth.enabled = false;
    c.campaign.min_recipients = 3;
    // The template must only tag on its own, as its rules score it: the learned model
    // holds it alone, which would leave nothing for the campaign count to decide.
    c.scores.insert("THREAT_MODEL".into(), 0.0);
    c
}

const NAMES: [&str; 6] = [
    "Maria Lopez",
    "John Smith",
    "Aisha Khan",
    "Robert Chen",
    "Linda Park",
    "Omar Novak",
];

/// Copy `i` of a template that is only tagged on its own.
fn copy(i: usize) -> (Envelope, Vec<u8>) {
    let name = NAMES[i];
    let rcpt = format!("{}@county.example", name.to_lowercase().replace(' ', "."));
    let raw = format!(
        "From: Concerned Citizens <notice@citizens-watch.example>\r\nTo: \"{name}\" <{rcpt}>\r\n\
         Subject: Your vote\r\n\r\n{name}, we know you live at {} Oak Street and that you are \
         registered as a Democrat. We are watching how this precinct votes. You will vote for \
         our candidate on Election Day or there will be consequences for you. Change your party \
         registration this week so we know you got this message. We will know how you voted.\r\n",
        10 + i * 7
    );
    (
        Envelope {
            mail_from: "notice@citizens-watch.example".into(),
            rcpt_to: vec![rcpt],
            queue_id: format!("Q{i}"),
            auth_user: None,
        },
        raw.into_bytes(),
    )
}

async fn send(running: &Running, envelope: &Envelope, raw: &[u8]) -> (Reply, String) {
    let spec: SocketSpec = running.milter.postfix().parse().unwrap();
    let stream = AnyStream::connect(&spec).await.unwrap();
    let mut conn = MilterConnection::open(stream, client::postfix_offer())
        .await
        .unwrap();
    let outside = Connection {
        address: "192.0.2.10".into(),
        ..Connection::default()
    };
    conn.connect_client(&outside).await.unwrap();
    let outcome = conn
        .message(envelope, &client::parse_message(raw))
        .await
        .unwrap();
    conn.quit().await.unwrap();
    let header = outcome
        .modifications
        .iter()
        .find_map(|m| match m {
            Reply::AddHeader { name, value } if name == b"X-Palisade-Result" => {
                Some(String::from_utf8_lossy(value).trim().to_string())
            }
            _ => None,
        })
        .unwrap_or_default();
    let held = outcome
        .modifications
        .iter()
        .any(|m| matches!(m, Reply::Quarantine(_)));
    (
        if held {
            Reply::Quarantine(Vec::new())
        } else {
            outcome.reply
        },
        header,
    )
}

/// Runs the palisade binary with `args` and `--config file`.
fn palisade(args: &[&str], file: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .arg("--config")
        .arg(file)
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_memory_store_counts_holds_saves_and_resumes() {
    let state = tempfile::tempdir().unwrap();
    let running = start(config(state.path())).await.unwrap();
    let mut headers = Vec::new();
    for i in 0..4 {
        let (env, raw) = copy(i);
        headers.push(send(&running, &env, &raw).await);
    }
    // Alone: tagged. From the second recipient: CAMPAIGN. From the third (the
    // configured count): CAMPAIGN_THREAT, and held.
    assert!(headers[0].1.starts_with("tag;"), "{headers:?}");
    assert!(!headers[0].1.contains("CAMPAIGN"), "{headers:?}");
    assert!(headers[1].1.contains("CAMPAIGN(0.00)"), "{headers:?}");
    assert!(!headers[1].1.contains("CAMPAIGN_THREAT"), "{headers:?}");
    for (reply, header) in &headers[2..] {
        assert!(header.starts_with("quarantine;"), "{header}");
        assert!(header.contains("CAMPAIGN_THREAT(5.00)"), "{header}");
        assert_eq!(*reply, Reply::Quarantine(Vec::new()));
    }
    // Other mail is its own business.
    let (mut env, _) = copy(0);
    env.rcpt_to = vec!["clerk@county.example".into()];
    let (_, calm) = send(
        &running,
        &env,
        b"From: Board <board@county.example>\r\nSubject: Canvass\r\n\r\nThe board meets on \
          Tuesday at nine in the annex to certify the canvass. Poll workers return their \
          equipment by Friday, and the minutes go on the website next week.\r\n",
    )
    .await;
    assert_eq!(calm, "accept; score=0.00");
    running.shutdown().await.unwrap();

    // Saved at shutdown, with neither text nor addresses in it.
    let saved = std::fs::read_to_string(state.path().join("campaigns.json")).unwrap();
    for name in NAMES {
        assert!(!saved.contains(&name.to_lowercase().replace(' ', ".")));
        assert!(!saved.contains(name));
    }
    assert!(!saved.contains("consequences"));
    let key = std::fs::metadata(state.path().join("campaign.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );

    // The CLI reads the same store.
    let file = state.path().join("palisade.toml");
    std::fs::write(
        &file,
        format!("[state]\ndir = \"{}\"\n", state.path().display()),
    )
    .unwrap();
    let out = palisade(&["campaign", "list", "--threats", "--json"], &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list:#}");
    assert_eq!(list[0]["recipients"], 4);
    assert_eq!(list[0]["copies"], 4);
    let id = list[0]["id"].as_str().unwrap().to_string();
    let out = palisade(&["campaign", "show", &id, "--json"], &file);
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages = show["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[3]["queue_id"], "Q3");
    assert_eq!(messages[3]["action"], "quarantine");
    assert_eq!(messages[0]["recipients"][0], "maria.lopez@county.example");
    // Unknown ids and bad ids: exit 1 and 2.
    for (arg, code) in [("0123456789abcdef", 1), ("../x", 2)] {
        let out = palisade(&["campaign", "show", arg], &file);
        assert_eq!(out.status.code(), Some(code), "{arg}");
    }

    // A restarted daemon reads it back and goes on counting.
    let running = start(config(state.path())).await.unwrap();
    let (env, raw) = copy(4);
    let (_, header) = send(&running, &env, &raw).await;
    assert!(header.contains("CAMPAIGN_THREAT"), "{header}");
    running.shutdown().await.unwrap();
    let out = palisade(&["campaign", "show", &id, "--json"], &file);
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["recipients"], 5, "{show:#}");
}
