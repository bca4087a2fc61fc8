//! Fuzz targets: each takes arbitrary bytes and must neither panic nor hang, whatever
//! they are. The AFL++ binaries in `src/bin` call them (`cargo afl build --features
//! afl`); `tests/replay.rs` runs every seed and every input that once crashed through
//! them in an ordinary `cargo test`.
#![forbid(unsafe_code)]

use std::io::Write;
use std::sync::LazyLock;

use palisade_auth::AuthReport;
use palisade_config::{Config, Sources};
use palisade_engine::extract::{extract, Limits};
use palisade_engine::rules::{RuleSet, Words, DEFAULT_PACKS};
use palisade_engine::{Engine, FromHeader, Input, Thresholds};
use palisade_milter::client;
use palisade_milter::session::Step;
use palisade_milter::{frame, Command, Reply, Session, SessionConfig};
use palisade_server::actions;
use palisade_server::scan::Scanner;

/// The default configuration, as `palisade serve` starts without --config.
static CONFIG: LazyLock<Config> = LazyLock::new(|| {
    Config::load(&Sources::default()).unwrap_or_else(|e| panic!("default config: {e}"))
});

/// A scanner with the default rules and no DNS, built once per process.
static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    Scanner::new(&CONFIG, true).unwrap_or_else(|e| panic!("default scanner: {e}"))
});

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::with_default_rules(Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    })
    .unwrap_or_else(|e| panic!("default rules: {e}"))
});

/// Milter frames: every packet is decoded and parsed as a command; a bad one ends the
/// stream, as it ends the connection.
pub fn milter_frames(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((packet, len))) = frame::decode(rest) {
        let _ = Command::parse(packet.code, packet.data);
        rest = &rest[len..];
    }
}

/// A whole milter session as the daemon runs it: the first byte picks the session
/// limits, the rest is what the MTA sends. Every completed message is scored and turned
/// into replies, which are encoded; the invariants the daemon relies on are checked.
pub fn milter_session(data: &[u8]) {
    let Some((&knobs, stream)) = data.split_first() else {
        return;
    };
    let _ = drive_session(knobs, stream);
}

/// What a session did: messages completed, and final replies sent for them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionOutcome {
    /// Messages that reached end of message.
    pub messages: usize,
    /// Final replies (continue, or an SMTP reply code) sent for them.
    pub finals: usize,
    /// Header deletions requested.
    pub deletions: usize,
}

/// Runs `stream` (what the MTA sends) through a session as the daemon does; `knobs`
/// picks the limits (bit 0: a 1 KiB message cap; bit 1: 16 headers).
pub fn drive_session(knobs: u8, stream: &[u8]) -> SessionOutcome {
    let mut outcome = SessionOutcome::default();
    let config = SessionConfig {
        max_message_size: if knobs & 1 == 0 { 64 << 10 } else { 1024 },
        max_headers: if knobs & 2 == 0 { 1000 } else { 16 },
        watched_headers: actions::OWNED_HEADERS
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        ..SessionConfig::default()
    };
    let max_size = config.max_message_size;
    let mut session = Session::new(config);
    let mut out = Vec::new();
    let mut rest = stream;
    loop {
        let (packet, len) = match frame::decode(rest) {
            Ok(Some(p)) => p,
            _ => return outcome,
        };
        rest = &rest[len..];
        let Ok(command) = Command::parse(packet.code, packet.data) else {
            return outcome;
        };
        let step = match session.handle(command) {
            Ok(s) => s,
            Err(_) => return outcome,
        };
        match step {
            Step::Nothing | Step::Connect { .. } => {}
            Step::Reply(r) => r.encode(&mut out),
            Step::EndOfMessage => {
                let Some(message) = session.take_message() else {
                    continue;
                };
                outcome.messages += 1;
                // Kept text never exceeds the limit (plus the header/body separator).
                assert!(message.raw.len() <= max_size + 2, "raw grew past the limit");
                if message.unscanned {
                    outcome.finals += 1;
                    continue;
                }
                let from = FromHeader::parse(&message.raw);
                let scanned = SCANNER.score_message(&message, from, AuthReport::default());
                let (replies, _) =
                    actions::replies(&scanned, &message, &CONFIG.policy, "mx.fuzz.test", &session);
                assert!(
                    matches!(replies.last(), Some(Reply::Continue | Reply::ReplyCode(_))),
                    "a message must end with a final reply"
                );
                outcome.finals += 1;
                outcome.deletions += replies
                    .iter()
                    .filter(|r| matches!(r, Reply::ChangeHeader { value, .. } if value.is_empty()))
                    .count();
                for r in replies {
                    r.encode(&mut out);
                }
            }
            Step::Close => return outcome,
        }
        out.clear();
    }
}

/// MIME and HTML: a message taken apart into its texts, and any bytes read as HTML.
pub fn mime(data: &[u8]) {
    let limits = Limits {
        max_text: 256 << 10,
        ..Limits::default()
    };
    let _ = extract(data, &limits);
    let text = String::from_utf8_lossy(data);
    let _ = palisade_engine::html::to_text(&text);
    let _ = FromHeader::parse(data);
}

/// Normalisation: the offset map must cover the output and point into the input.
pub fn normalize(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let n = palisade_engine::normalize::normalize(&text);
    assert_eq!(n.map.len(), n.text.len(), "one offset per output byte");
    assert!(
        n.map.iter().all(|&o| (o as usize) <= text.len()),
        "offsets point into the input"
    );
    let words = Words::of(&n);
    let _ = words.len();
}

/// The whole content engine on a message, as `palisade check` scores a file.
pub fn scan(data: &[u8]) {
    let verdict = ENGINE.scan(&Input::new(data));
    assert!(verdict.score.is_finite(), "score must be a number");
}

/// Authentication-Results values (the authserv-id that decides what is forged) and the
/// From header both authentication and the engine read.
pub fn auth_results(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(id) = palisade_auth::authserv_id_of(&text) {
        assert!(!id.is_empty());
        assert_eq!(id, id.to_ascii_lowercase());
    }
    let from = FromHeader::parse(data);
    let _ = from.domains();
}

/// Configuration: any TOML file over the defaults loads or is refused with every issue
/// named, and any text compiles as a rule pack or is refused; never a panic. (Compiling
/// the default packs beside it would cost 100 ms an input and teach the fuzzer nothing
/// new; the replay tests do that for the seeds.)
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let dir = std::env::temp_dir().join(format!("palisade-fuzz-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_ok() {
        let path = dir.join("palisade.toml");
        let written = std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes()));
        if written.is_ok() {
            let sources = Sources {
                file: Some(path),
                env: Vec::new(),
            };
            if let Ok(c) = Config::load(&sources) {
                let _ = c.to_toml();
            }
        }
        // Removed after every input: a fuzzing process is killed rather than ending, and
        // each process used to leave its directory in the temporary directory for good.
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = RuleSet::compile([("fuzz.toml".to_string(), text.into_owned())]);
}

/// [`config`] plus what it leaves out: the configuration's scanner, and the text as a
/// pack beside the default ones. For the replay tests.
pub fn config_full(data: &[u8]) {
    config(data);
    let text = String::from_utf8_lossy(data);
    let mut packs: Vec<(String, String)> = DEFAULT_PACKS
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    packs.push(("fuzz.toml".into(), text.into_owned()));
    let _ = RuleSet::compile(packs);
}

/// A negotiated session carrying `messages`, encoded as the MTA sends it: the seed shape
/// for [`milter_session`] (after the knobs byte).
pub fn session_bytes(messages: &[&[u8]]) -> Vec<u8> {
    let offer = client::postfix_offer();
    let mut s = Session::new(SessionConfig::default());
    let mut out = Vec::new();
    Command::OptNeg(offer).encode(&mut out);
    let _ = s.handle(Command::OptNeg(offer));
    let Some(negotiated) = s.negotiated().cloned() else {
        return out;
    };
    let conn = client::Connection {
        address: "192.0.2.10".into(),
        hostname: "client.example".into(),
        helo: "client.example".into(),
        ..client::Connection::default()
    };
    for c in client::connection_commands(&conn) {
        c.encode(&mut out);
    }
    for (i, m) in messages.iter().enumerate() {
        let env = client::Envelope {
            mail_from: format!("sender{i}@example.org"),
            rcpt_to: vec!["clerk@county.example".into()],
            queue_id: format!("Q{i}"),
            auth_user: None,
        };
        for c in client::message_commands(&env, &client::parse_message(m), &negotiated) {
            c.encode(&mut out);
        }
    }
    Command::Quit.encode(&mut out);
    out
}
