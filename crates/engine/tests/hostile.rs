//! Hostile input: every case finishes (linear work, capped structures) and never panics.
//! These tests prove termination and bounds; speed is measured by the benchmarks.
#![allow(clippy::unwrap_used)]

use palisade_engine::extract::{extract, Limits};
use palisade_engine::normalize::normalize;
use palisade_engine::{Engine, Input, Thresholds};
use proptest::prelude::*;
use std::sync::LazyLock;

static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    Engine::with_default_rules(Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    })
    .unwrap()
});

fn engine() -> &'static Engine {
    &ENGINE
}

fn names(raw: &[u8]) -> Vec<String> {
    engine()
        .scan(&Input::new(raw))
        .symbols
        .into_iter()
        .map(|s| s.name)
        .collect()
}

fn text_len(raw: &[u8]) -> usize {
    extract(raw, &Limits::default())
        .texts
        .iter()
        .map(|t| t.text.len())
        .sum()
}

#[test]
fn running_out_of_work_budget_is_scored_never_a_pass() {
    // Many parts, each dense with lexicon words: the budget runs out part way.
    let mut raw =
        String::from("Subject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    for _ in 0..40 {
        raw.push_str("--b\r\nContent-Type: text/plain\r\n\r\n");
        raw.push_str(&"we will kill you ".repeat(200));
        raw.push_str("\r\n");
    }
    raw.push_str("--b--\r\n");
    let small = Engine::with_default_rules(Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    })
    .unwrap()
    .with_limits(Limits {
        max_work: 5_000,
        ..Limits::default()
    });
    let v = small.scan(&Input::new(raw.as_bytes()));
    let names: Vec<&str> = v.symbols.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"SCAN_BUDGET_EXHAUSTED"), "{names:?}");
    // What was read before the budget ran out still counts.
    assert!(v.score >= 5.0, "{names:?}");
    // The default budget reads it all.
    assert!(!engine()
        .scan(&Input::new(raw.as_bytes()))
        .symbols
        .iter()
        .any(|s| s.name == "SCAN_BUDGET_EXHAUSTED"));
}

#[test]
fn ten_megabytes_of_one_character() {
    let mut raw = b"Subject: a\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 10 << 20));
    assert!(text_len(&raw) <= Limits::default().max_text);
    assert!(names(&raw).contains(&"TEXT_LIMIT_REACHED".to_string()));
    // One endless word: normalisation keeps at most 256 characters of a word.
    let norm = normalize(&"x".repeat(1 << 20));
    assert!(norm.text.len() <= 256);
}

#[test]
fn ten_thousand_nested_parts() {
    let mut raw =
        String::from("Subject: nest\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n");
    for i in 0..10_000 {
        raw.push_str(&format!(
            "--b{i}\r\nContent-Type: multipart/mixed; boundary=b{}\r\n\r\n",
            i + 1
        ));
    }
    raw.push_str("--b10000\r\nContent-Type: text/plain\r\n\r\nwe will find you\r\n");
    let e = extract(raw.as_bytes(), &Limits::default());
    assert!(e.texts.len() <= Limits::default().max_parts);
    let _ = names(raw.as_bytes());
}

#[test]
fn ten_thousand_sibling_parts_are_capped() {
    let mut raw =
        String::from("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for i in 0..10_000 {
        raw.push_str(&format!(
            "--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        ));
    }
    raw.push_str("--b--\r\n");
    let e = extract(raw.as_bytes(), &Limits::default());
    assert!(e.limited);
    assert!(e.texts.len() <= Limits::default().max_parts);
    assert!(names(raw.as_bytes()).contains(&"TEXT_LIMIT_REACHED".to_string()));
}

#[test]
fn a_hundred_thousand_headers() {
    let mut raw = String::new();
    for i in 0..100_000 {
        raw.push_str(&format!("X-Header-{i}: value {i}\r\n"));
    }
    raw.push_str("Subject: many headers\r\n\r\nWe will find you.\r\n");
    let n = names(raw.as_bytes());
    assert!(n.contains(&"THREAT_PURSUIT".to_string()), "{n:?}");
}

#[test]
fn five_megabyte_single_line() {
    let mut raw = b"Subject: line\r\n\r\n".to_vec();
    while raw.len() < 5 << 20 {
        raw.extend_from_slice(b"vote for the people or ");
    }
    raw.extend_from_slice(b"else\r\n");
    assert!(text_len(&raw) <= Limits::default().max_text);
    let _ = names(&raw);
}

#[test]
fn frame_starts_everywhere_stay_linear() {
    // Every "we will" starts a frame; the harm and target come only at the end, or never.
    let body = "we will ".repeat(200_000);
    let raw = format!("Subject: s\r\n\r\n{body}\r\n");
    assert!(!names(raw.as_bytes()).contains(&"THREAT_KILL_YOU".to_string()));
    let raw = format!("Subject: s\r\n\r\n{body} kill you\r\n");
    assert!(names(raw.as_bytes()).contains(&"THREAT_KILL_YOU".to_string()));
}

#[test]
fn repeated_near_matches_stay_linear() {
    // A near-match repeated over a megabyte once took seconds: the reported-speech check
    // looked back to the start of the line for every hit. Ordinary words, so nothing fires.
    let text = "te grabe ".repeat(120_000);
    let raw = format!("Subject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n");
    let v = engine().scan(&Input::new(raw.as_bytes()));
    assert_eq!(v.action.as_str(), "accept", "{:?}", v.symbols);
}

#[test]
fn pathological_html() {
    let deep = "<div>".repeat(100_000) + "we will find you" + &"</div>".repeat(100_000);
    let open_comment = "<!-- never closed ".to_string() + &"x".repeat(100_000);
    let lone = "< ".repeat(100_000);
    let quotes = "<a href=\"".repeat(50_000);
    for html in [deep, open_comment, lone, quotes] {
        let raw = format!("Subject: h\r\nContent-Type: text/html\r\n\r\n{html}\r\n");
        let _ = names(raw.as_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn normalize_never_panics_and_maps_every_byte(s in "\\PC{0,200}") {
        let n = normalize(&s);
        prop_assert_eq!(n.map.len(), n.text.len());
        for &at in &n.map {
            prop_assert!((at as usize) < s.len().max(1));
            prop_assert!(s.is_char_boundary(at as usize));
        }
    }

    #[test]
    fn scanning_arbitrary_bytes_never_panics(raw in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = engine().scan(&Input::new(&raw));
    }
}
