//! Deployment files checked with the real tools, and metrics watched by a real
//! Prometheus while mail flows through a real Postfix.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use palisade_auth::{AuthReport, AuthResult};
use palisade_config::{Config, Sources};
use palisade_e2e::dns::DnsServer;
use palisade_e2e::prometheus::Prometheus;
use palisade_e2e::{fixture, require_tools, smtp_session, Outgoing, Postfix, PostfixConfig};
use palisade_engine::{Symbol, Thresholds, Verdict};
use palisade_server::metrics::Metrics;
use palisade_server::start;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

fn promtool(args: &[&str], dir: &Path) -> std::process::Output {
    require_tools(&["promtool"]).unwrap();
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn alert_rules_and_scrape_config_pass_promtool() {
    let dir = deploy("prometheus");
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["check", "config", "prometheus.yml"][..],
        &["test", "rules", "alerts_test.yml"][..],
    ] {
        let out = promtool(args, &dir);
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every alert has a test case.
    let rules = std::fs::read_to_string(dir.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("alerts_test.yml")).unwrap();
    for line in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!("alertname: {line}")),
            "no test for {line}"
        );
    }
}

/// Metric names Palisade exports, read from a real render after one message.
fn exported() -> BTreeSet<String> {
    let m = Metrics::new();
    let verdict = Verdict::from_symbols(
        vec![Symbol {
            name: "THREAT_PURSUIT".into(),
            score: 5.0,
            category: "threat".into(),
            detail: String::new(),
        }],
        &Thresholds {
            tag: 5.0,
            quarantine: 10.0,
            reject: 0.0,
        },
    );
    let auth = AuthReport {
        checked: true,
        dmarc: AuthResult::Fail,
        ..AuthReport::default()
    };
    m.message("tag", &verdict, &auth);
    m.scan_duration.with_label_values(&["total"]).observe(0.001);
    m.dns_totals(1, 1);
    let text = m.render();
    let mut names: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect();
    // Histograms are also known by their family name.
    names.extend(
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_string),
    );
    names
}

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(p) = text[i..].find("palisade_") {
        let start = i + p;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if before_ok {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

#[test]
fn dashboard_and_alerts_only_name_metrics_palisade_exports() {
    let exported = exported();
    for required in [
        "palisade_messages_total",
        "palisade_message_score_bucket",
        "palisade_scan_duration_seconds_bucket",
        "palisade_symbol_hits_total",
        "palisade_auth_results_total",
        "palisade_milter_connections_active",
        "palisade_milter_connections_total",
        "palisade_milter_errors_total",
        "palisade_dns_queries_total",
        "palisade_dns_query_duration_seconds_bucket",
        "palisade_config_reloads_total",
        "palisade_build_info",
    ] {
        assert!(
            exported.contains(required),
            "{required} not exported: {exported:?}"
        );
    }
    let dashboard = std::fs::read_to_string(deploy("grafana/palisade.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let panels = json["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    let mut exprs = String::new();
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            exprs.push_str(t["expr"].as_str().unwrap());
            exprs.push('\n');
        }
    }
    let alerts = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    for (what, text) in [("dashboard", &exprs), ("alerts", &alerts)] {
        let names = metric_names(text);
        assert!(!names.is_empty());
        for n in names {
            assert!(
                exported.contains(&n),
                "{what} names {n}, which Palisade does not export"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_every_message_counted_by_action() {
    let dns = DnsServer::start(&["test", "example", "org", "net", "in-addr.arpa"], &[]).unwrap();
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.policy.trusted_networks.clear();
    c.dns.nameservers = vec![dns.nameserver()];
    c.auth.authserv_id = "mx.palisade.test".into();
    let running = start(c).await.unwrap();
    let pf = Postfix::start(&PostfixConfig::with_milter(&running.milter.postfix())).unwrap();
    let prom = Prometheus::start(&[running.http]).unwrap();
    let q = |action: &str| {
        format!("sum(palisade_messages_total{{job=\"palisade\",action=\"{action}\"}})")
    };
    // Before any mail: the series exist, at zero.
    prom.wait_value(&q("accept"), 0.0, Duration::from_secs(30))
        .unwrap();
    prom.wait_value(&q("quarantine"), 0.0, Duration::from_secs(30))
        .unwrap();

    let mut batch = Vec::new();
    for i in 0..5 {
        batch.push(Outgoing {
            from: format!("staff{i}@example.org"),
            to: "clerk@county.example".into(),
            data: fixture("ham-office-memo.eml"),
        });
    }
    for f in [
        "proud-boys-2020.eml",
        "family-extortion.eml",
        "obf-zero-width.eml",
    ] {
        batch.push(Outgoing {
            from: "x@example.org".into(),
            to: "clerk@county.example".into(),
            data: fixture(f),
        });
    }
    let server = pf.smtp;
    let replies = tokio::task::spawn_blocking(move || smtp_session(server, &batch).unwrap())
        .await
        .unwrap();
    assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");

    let wait = Duration::from_secs(30);
    let q2 = q;
    tokio::task::spawn_blocking(move || {
        prom.wait_value(&q2("accept"), 5.0, wait).unwrap();
        prom.wait_value(&q2("quarantine"), 3.0, wait).unwrap();
        prom.wait_value(&q2("reject"), 0.0, wait).unwrap();
        // The same scrapes carry the rest: threat symbols, connections, build info.
        let threats = prom
            .value("sum(palisade_symbol_hits_total{category=~\"threat|coercion|extortion\"})")
            .unwrap()
            .unwrap_or(0.0);
        assert!(threats >= 3.0, "{threats}");
        let conns = prom
            .value("sum(palisade_milter_connections_total)")
            .unwrap()
            .unwrap_or(0.0);
        assert!(conns >= 1.0, "{conns}");
        prom.wait_value("sum(palisade_build_info)", 1.0, wait)
            .unwrap();
    })
    .await
    .unwrap();
    running.shutdown().await.unwrap();
}

#[test]
fn systemd_unit_is_hardened_and_reloads_with_sighup() {
    let unit = std::fs::read_to_string(deploy("systemd/palisade.service")).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=30s",
        "User=palisade",
        "SupplementaryGroups=postfix",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
        "ExecStartPre=/usr/bin/palisade config check --config /etc/palisade/palisade.toml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ExecStart=/usr/bin/palisade serve --config /etc/palisade/palisade.toml",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "missing {line}");
    }
    // A user that exists only while the service runs cannot share Postfix's group.
    assert!(!unit.contains("DynamicUser"), "{unit}");
}

#[test]
fn postfix_lines_are_valid_main_cf() {
    require_tools(&["postconf"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(deploy("postfix/main.cf"), dir.path().join("main.cf")).unwrap();
    std::fs::write(dir.path().join("master.cf"), "").unwrap();
    let out = Command::new("postconf")
        .arg("-c")
        .arg(dir.path())
        .args([
            "-n",
            "smtpd_milters",
            "non_smtpd_milters",
            "milter_default_action",
            "milter_protocol",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("smtpd_milters = unix:/palisade/milter.sock"),
        "{text}"
    );
    assert!(text.contains("milter_default_action = tempfail"), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).trim().is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
