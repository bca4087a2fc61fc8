//! The RFC 7208 SPF conformance suite (rfc7208-tests.yml from the pyspf sdist), run
//! through Palisade's SPF path with each scenario's records served by a real unbound.
//! `tests/e2e/spf-suite/fetch` (called by tests/run) downloads and converts the suite.
//! The pass count and every deviation are printed; docs/evaluation.md records them, and
//! the test fails if fewer tests pass than recorded there.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use palisade_auth::{AuthRequest, AuthSettings, Authenticator};
use palisade_e2e::dns::{DnsServer, Record};
use serde_json::Value;

/// Tests passing when this was last measured; fewer is a regression.
const EXPECTED_PASSES: usize = 149;

fn suite() -> Vec<Value> {
    let path = std::env::var_os("PALISADE_SPF_SUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/eval-cache/spf/rfc7208-tests.json")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run tests/e2e/spf-suite/fetch (tests/run does) to get the suite",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn strings(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::String(s) => vec![s.as_bytes().to_vec()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(|s| s.as_bytes().to_vec()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The scenario's zone data as records, with type SPF served as TXT where a name has
/// no TXT of its own (the suite asks drivers to do so), and names that TIMEOUT.
fn zone(data: &Value) -> (Vec<Record>, Vec<String>) {
    let mut records = Vec::new();
    let mut timeouts = Vec::new();
    let Some(map) = data.as_object() else {
        return (records, timeouts);
    };
    for (name, rrs) in map {
        let rrs = rrs.as_array().cloned().unwrap_or_default();
        // `{TXT: NONE}` marks a name without TXT (so type SPF is not copied to it).
        let none = Value::String("NONE".into());
        let has_txt = rrs.iter().any(|r| r.get("TXT").is_some());
        let real_txt = rrs.iter().any(|r| r.get("TXT").is_some_and(|v| *v != none));
        if rrs.iter().any(|r| r.as_str() == Some("TIMEOUT")) && !real_txt {
            // TIMEOUT: lookups of what the name does not list time out; with no TXT to
            // serve, the SPF lookup is one of them. Serving nothing and letting every
            // query time out is the closest a real server gets.
            timeouts.push(name.clone());
            continue;
        }
        for rr in &rrs {
            if rr.as_str() == Some("TIMEOUT") || rr.get("TXT") == Some(&none) {
                continue;
            }
            let Some((kind, value)) = rr.as_object().and_then(|o| o.iter().next()) else {
                continue;
            };
            match kind.as_str() {
                "TXT" => {
                    let s = strings(value);
                    let refs: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
                    records.push(Record::txt_strings(name, &refs));
                }
                "SPF" if !has_txt => {
                    let s = strings(value);
                    let refs: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
                    records.push(Record::txt_strings(name, &refs));
                }
                "A" => records.push(Record::a(name, value.as_str().unwrap_or(""))),
                "AAAA" => records.push(Record::aaaa(name, value.as_str().unwrap_or(""))),
                "MX" => {
                    let pref = value[0].as_u64().unwrap_or(0) as u16;
                    let host = value[1].as_str().unwrap_or("");
                    records.push(Record::mx(
                        name,
                        pref,
                        if host.is_empty() { "." } else { host },
                    ));
                }
                "PTR" => records.push(Record::ptr(name, value.as_str().unwrap_or(""))),
                "CNAME" => records.push(Record::cname(name, value.as_str().unwrap_or(""))),
                _ => {}
            }
        }
    }
    (records, timeouts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7208_suite() {
    let mut passed = 0;
    let mut total = 0;
    let mut deviations = BTreeMap::new();
    for scenario in suite() {
        let (records, timeouts) = zone(&scenario["zonedata"]);
        let refused: Vec<&str> = timeouts.iter().map(String::as_str).collect();
        let tests = scenario["tests"].as_object().cloned().unwrap_or_default();
        let dns = match DnsServer::start_with(&["."], &refused, &records) {
            Ok(d) => d,
            Err(e) => {
                for name in tests.keys() {
                    total += 1;
                    deviations.insert(name.clone(), format!("zone not servable: {e}"));
                }
                continue;
            }
        };
        let auth = Authenticator::new(AuthSettings {
            nameservers: vec![dns.addr],
            timeout: Duration::from_millis(500),
            attempts: 1,
            cache_entries: 1000,
            deadline: Duration::from_secs(20),
            trusted_arc_sealers: Vec::new(),
            host_domain: "receiver.test".into(),
            max_dkim_signatures: 5,
        })
        .unwrap();
        for (name, t) in tests {
            total += 1;
            let expected: Vec<String> = match &t["result"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            let Ok(ip) = t["host"].as_str().unwrap_or("").parse::<IpAddr>() else {
                deviations.insert(name, "bad host address in the suite".into());
                continue;
            };
            let report = auth
                .authenticate(AuthRequest {
                    raw: b"From: <x@receiver.test>\r\nSubject: t\r\n\r\nt\r\n",
                    client_ip: Some(ip),
                    helo: t["helo"].as_str().unwrap_or(""),
                    mail_from: t["mailfrom"].as_str().unwrap_or(""),
                    from: &[],
                    truncated: false,
                })
                .await;
            let got = report.spf.as_str();
            if expected.iter().any(|e| e == got) {
                passed += 1;
            } else {
                deviations.insert(
                    name,
                    format!("expected {} got {got}", expected.join(" or ")),
                );
            }
        }
    }
    println!("SPF suite: {passed} of {total} passed");
    for (name, why) in &deviations {
        println!("  deviation {name}: {why}");
    }
    assert_eq!(total, 203, "the suite changed size");
    assert!(
        passed >= EXPECTED_PASSES,
        "{passed} of {total} passed; {EXPECTED_PASSES} did before"
    );
}
