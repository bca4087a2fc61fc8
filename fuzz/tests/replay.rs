//! Every seed and every input that once crashed a target, run through it in an ordinary
//! test: what the fuzzer found stays fixed. A crash found by `cargo afl fuzz` is copied
//! to `fuzz/regressions/<target>/` and, when it teaches something, named below.
#![allow(clippy::unwrap_used)]

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("milter_frames", palisade_fuzz::milter_frames),
    ("milter_session", palisade_fuzz::milter_session),
    ("mime", palisade_fuzz::mime),
    ("normalize", palisade_fuzz::normalize),
    ("scan", palisade_fuzz::scan),
    ("auth_results", palisade_fuzz::auth_results),
    ("config", palisade_fuzz::config_full),
];

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind);
    let mut n = 0;
    for (name, target) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).unwrap();
            target(&bytes);
            n += 1;
        }
    }
    n
}

#[test]
fn every_seed_runs_clean() {
    let n = replay("seeds");
    assert!(
        n >= 40,
        "only {n} seeds; run `cargo run -p palisade-fuzz --bin make-seeds`"
    );
}

#[test]
fn every_past_crash_runs_clean() {
    replay("regressions");
}

/// 14 bytes of HTML, an attribute left open on a two-byte character: the tokenizer
/// sliced inside the character and panicked (issue 10's first report).
#[test]
fn html_attribute_left_open_on_a_multibyte_character() {
    palisade_fuzz::mime("<a title=\"é".as_bytes());
    palisade_fuzz::scan(b"Content-Type: text/html\r\n\r\n<a title=\"\xc3\xa9");
}

/// Found by `fuzz/run` (mime target, 2026-11-30): a `message/rfc822` part whose header
/// section runs into the next boundary trips an internal assertion in mail-parser 0.11
/// (debug builds). Extraction contains the parser's panic and reads the message as plain
/// text: it is scanned, not tempfailed forever.
#[test]
fn mail_parser_assertion_on_a_nested_message_is_contained() {
    let raw = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("regressions/mime/mail-parser-assertion-nested-rfc822"),
    )
    .unwrap();
    palisade_fuzz::mime(&raw);
    palisade_fuzz::scan(&raw);
    let e = palisade_engine::extract::extract(&raw, &palisade_engine::extract::Limits::default());
    assert!(e
        .texts
        .iter()
        .any(|t| t.text.contains("Read the attachment")));
}

/// A session that negotiates, then sends a header before any MAIL and an end of message
/// with no body: the message is made up on the fly, never a panic.
#[test]
fn message_events_without_mail() {
    let mut data = vec![0u8];
    let offer = palisade_milter::client::postfix_offer();
    palisade_milter::Command::OptNeg(offer).encode(&mut data);
    palisade_milter::Command::Header {
        name: b"Subject".to_vec(),
        value: b" x".to_vec(),
    }
    .encode(&mut data);
    palisade_milter::Command::EndOfMessage(Vec::new()).encode(&mut data);
    let outcome = palisade_fuzz::drive_session(data[0], &data[1..]);
    assert_eq!(outcome.messages, 1);
    assert_eq!(outcome.finals, 1);
}

/// Thousands of copies of our own headers: deletions are capped (the message is held;
/// see crates/palisade/tests/milter.rs).
#[test]
fn a_flood_of_forged_headers() {
    let mut raw = String::new();
    for _ in 0..3000 {
        raw.push_str("X-Spam-Flag: NO\r\n");
    }
    raw.push_str("Subject: hi\r\n\r\nhello\r\n");
    let stream = palisade_fuzz::session_bytes(&[raw.as_bytes()]);
    let outcome = palisade_fuzz::drive_session(0, &stream);
    assert_eq!(outcome.finals, 1);
    assert_eq!(
        outcome.deletions,
        palisade_server::actions::MAX_HEADER_DELETIONS
    );
}
