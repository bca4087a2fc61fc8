//! Golden verdicts: every message in tests/fixtures/messages is scored and compared with
//! its `.expected` file (action and the exact set of symbols). One message per disguise
//! and per rule family, plus legitimate mail that quotes or discusses threats.
//!
//! After an intended change, `PALISADE_BLESS=1 cargo test -p palisade-engine --test
//! fixtures` rewrites the expected files; review the diff before committing it.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use palisade_engine::{Engine, Input, Thresholds};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/messages")
}

#[test]
fn golden_verdicts() {
    let engine = Engine::with_default_rules(Thresholds {
        tag: 5.0,
        quarantine: 10.0,
        reject: 0.0,
    })
    .unwrap();
    let bless = std::env::var_os("PALISADE_BLESS").is_some();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 15, "fixtures missing in {}", dir().display());
    let mut failures = Vec::new();
    for path in paths {
        let raw = std::fs::read(&path).unwrap();
        let v = engine.scan(&Input::new(&raw));
        let mut symbols: Vec<String> = v.symbols.iter().map(|s| s.name.clone()).collect();
        symbols.sort();
        let got = serde_json::json!({ "action": v.action.as_str(), "symbols": symbols });
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, format!("{got:#}\n")).unwrap();
            continue;
        }
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        if got != expected {
            failures.push(format!(
                "{}: expected {expected}, got {got} (score {})",
                path.display(),
                v.score
            ));
        }
        // The family tells what a message must be at least or at most.
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("ham-") && v.action.as_str() != "accept" {
            failures.push(format!("{name}: legitimate mail got {}", v.action.as_str()));
        }
        if (name.starts_with("obf-") || name.starts_with("family-"))
            && name != "family-single-threat.eml"
            && v.action.as_str() != "quarantine"
        {
            failures.push(format!("{name}: threat got only {}", v.action.as_str()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
