//! Campaigns across a fleet, through the real thing: two `palisade serve` daemons, each
//! behind its own Postfix, sharing one redis-server. Thirty personalised copies of one
//! threatening template (each alone only tagged) are split across both hosts; from the
//! configured count on they are held on both, copies still queued (deferred) are held
//! afterwards, unrelated mail passes, and `palisade campaign show` lists all thirty with
//! their recipients. Then Redis hangs and dies mid-run: no message waits longer than
//! the timeout, none is lost, and counting resumes when it returns.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use palisade_e2e::faults::Daemon;
use palisade_e2e::redis::RedisServer;
use palisade_e2e::web::Client;
use palisade_e2e::{free_port, palisade_bin, smtp_session, Outgoing, Postfix, PostfixConfig};
use serde_json::Value;

const FIRST: [&str; 10] = [
    "Maria", "John", "Aisha", "Robert", "Linda", "Tomas", "Grace", "Omar", "Elena", "Samuel",
];
const LAST: [&str; 6] = ["Lopez", "Smith", "Khan", "Chen", "Baker", "Novak"];
const STREETS: [&str; 5] = [
    "Oak Street",
    "Pine Avenue",
    "Elm Court",
    "Lake Road",
    "Hill Lane",
];
const PARTIES: [&str; 3] = ["Democrat", "Republican", "independent voter"];

/// Voter `i`: name, street address, party.
fn voter(i: usize) -> (String, String, &'static str) {
    let name = format!(
        "{} {}",
        FIRST[i % FIRST.len()],
        LAST[(i / 2 + i) % LAST.len()]
    );
    let street = format!("{} {}", 10 + i * 37, STREETS[i % STREETS.len()]);
    (name, street, PARTIES[i % PARTIES.len()])
}

/// A personalised copy of one threatening template (tagged on its own: doxxing and a
/// veiled warning, below the quarantine line).
fn threat(i: usize, domain: &str) -> Outgoing {
    let (name, street, party) = voter(i);
    let to = format!("{}.{i}@{domain}", name.to_lowercase().replace(' ', "."));
    let data = format!(
        "From: Concerned Citizens <notice@citizens-watch.example>\r\n\
         To: \"{name}\" <{to}>\r\n\
         Subject: Your vote\r\n\
         Message-ID: <copy-{i}@citizens-watch.example>\r\n\r\n\
         {name}, we know you live at {street} and that you are registered as a\r\n\
         {party}. We are watching how this precinct votes. You will vote for our candidate\r\n\
         on Election Day or there will be consequences for you. Change your party\r\n\
         registration this week so we know you got this message. We will know how you\r\n\
         voted.\r\n"
    );
    Outgoing {
        from: "notice@citizens-watch.example".into(),
        to,
        data,
    }
}

/// Ordinary mail to several people: never a campaign threat.
fn unrelated(i: usize) -> Outgoing {
    let to = format!("clerk{i}@county.example");
    Outgoing {
        from: "board@county.example".into(),
        to: to.clone(),
        data: format!(
            "From: Board of Elections <board@county.example>\r\nTo: <{to}>\r\n\
             Subject: Canvass schedule\r\n\r\n\
             The board meets on Tuesday at nine in the annex to certify the canvass. Poll\r\n\
             workers return their equipment by Friday, and the minutes go on the website\r\n\
             next week. Thank you all for your work during early voting.\r\n"
        ),
    }
}

/// One MX host: Postfix in front of `palisade serve` (and, when asked, the root queue
/// helper the daemon reaches the queue through, as the shipped units set it up).
struct Host {
    pf: Postfix,
    daemon: Daemon,
    helper: Option<std::process::Child>,
    state: std::path::PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut h) = self.helper.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn host(name: &str, redis: &RedisServer, key: &std::path::Path, with_helper: bool) -> Host {
    let port = free_port().unwrap();
    // Mail for slow.example is deferred (its next hop refuses): copies that stay queued.
    let dead = free_port().unwrap();
    let mut cfg = PostfixConfig::with_milter(&format!("inet:127.0.0.1:{port}"));
    cfg.extra = vec![
        "relay_domains = county.example, example.net, slow.example".into(),
        format!("transport_maps = inline:{{slow.example=smtp:[127.0.0.1]:{dead}}}"),
    ];
    let pf = Postfix::start(&cfg).unwrap();
    let state = palisade_e2e::state_dir();
    // The helper keeps its record of holds in a directory of its own.
    let (helper, extra) = if with_helper {
        let sock = state.join("helper/queue.sock");
        std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
        let tools = state.join("tools.toml");
        std::fs::write(
            &tools,
            format!(
                "[quarantine]\npostfix_config = \"{}\"\n[state]\ndir = \"{}\"\n",
                pf.config_dir().display(),
                state.display()
            ),
        )
        .unwrap();
        let child = Command::new(palisade_bin().unwrap())
            .args(["quarantine", "helper", "--socket"])
            .arg(&sock)
            .arg("--holds")
            .arg(state.join("helper/campaign-holds.json"))
            .arg("--config")
            .arg(&tools)
            .spawn()
            .unwrap();
        palisade_e2e::wait_for(Duration::from_secs(10), || sock.exists()).unwrap();
        (Some(child), format!("helper = \"{}\"", sock.display()))
    } else {
        (None, String::new())
    };
    let daemon = Daemon::start_on(
        port,
        "",
        &format!(
            r#"[auth]
enabled = false
[policy]
trusted_networks = []
[state]
dir = "{state}"
backend = "redis"
url = "{url}"
timeout = "300ms"
[campaign]
min_recipients = 10
sweep_interval = "1s"
key_file = "{key}"
host = "{name}"
[quarantine]
postfix_config = "{pf}"
{extra}
# Each copy must only tag on its own, as its rules score it (the learned model would
# hold it alone): the campaign count is what this test is about.
[scores]
THREAT_MODEL = 0.0
"#,
            state = state.display(),
            url = redis.url(),
            key = key.display(),
            pf = pf.config_dir().display(),
        ),
    )
    .unwrap();
    Host {
        pf,
        daemon,
        helper,
        state,
    }
}

fn send(h: &Host, m: &Outgoing) {
    let r = smtp_session(h.pf.smtp, std::slice::from_ref(m)).unwrap();
    assert!(r[0].starts_with("250"), "{r:?}\n{}", h.daemon.log());
}

fn palisade(args: &[&str], config: &std::path::Path) -> Value {
    let out = palisade_e2e::palisade_cli(args, config).unwrap();
    assert!(
        out.status.success(),
        "palisade {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn result_header(message: &str) -> String {
    message
        .lines()
        .find_map(|l| l.strip_prefix("X-Palisade-Result: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_campaign_split_across_two_hosts_is_held_on_both_from_the_configured_count() {
    let redis = RedisServer::start().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("campaign.key");
    // mx2's daemon reaches its queue through the root helper.
    let a = host("mx1", &redis, &key, false);
    let b = host("mx2", &redis, &key, true);

    // Copies 0 and 1 go to a domain whose next hop is down: they wait in the deferred
    // queue. The others are delivered or held as they arrive. Sent one at a time, so
    // copy k is counted with k + 1 recipients.
    for k in 0..30 {
        let domain = if k < 2 {
            "slow.example"
        } else {
            "county.example"
        };
        let h = if k % 2 == 0 { &a } else { &b };
        send(h, &threat(k, domain));
    }
    for i in 0..4 {
        send(if i % 2 == 0 { &a } else { &b }, &unrelated(i));
    }

    // From the 10th recipient on (k >= 9) every copy is held: 10 on mx1 (k even), 11 on
    // mx2 (k odd); each host also holds its deferred copy once the campaign turned.
    let held_a = a.pf.wait_held(11, Duration::from_secs(30)).unwrap();
    let held_b = b.pf.wait_held(12, Duration::from_secs(30)).unwrap();
    assert_eq!((held_a.len(), held_b.len()), (11, 12));
    // Copies 2..8 were delivered, tagged, without CAMPAIGN_THREAT; the unrelated mail
    // was delivered untouched.
    let mut delivered = a.pf.wait_delivered(4 + 2, Duration::from_secs(30)).unwrap();
    delivered.extend(b.pf.wait_delivered(3 + 2, Duration::from_secs(30)).unwrap());
    let copies: Vec<&String> = delivered
        .iter()
        .filter(|m| m.contains("Subject: [SUSPECTED THREAT] Your vote"))
        .collect();
    assert_eq!(copies.len(), 7, "{delivered:#?}");
    for m in &copies {
        let r = result_header(m);
        assert!(r.starts_with("tag;"), "{r}");
        assert!(!r.contains("CAMPAIGN_THREAT"), "{r}");
    }
    let calm: Vec<&String> = delivered
        .iter()
        .filter(|m| m.contains("Canvass schedule"))
        .collect();
    assert_eq!(calm.len(), 4);
    for m in calm {
        // Counted as a campaign of its own (information only), never a threat.
        let r = result_header(m);
        assert!(r.starts_with("accept;"), "{r}");
        assert!(!r.contains("CAMPAIGN_THREAT"), "{r}");
    }

    // Reviewers see every held copy as Palisade's, the deferred ones included.
    for (h, n) in [(&a, 11), (&b, 12)] {
        let list = palisade(&["quarantine", "list", "--json"], &h.daemon.config_path());
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), n, "{list:#?}");
        let afterwards: Vec<&Value> = list
            .iter()
            .filter(|m| {
                m["result"]
                    .as_str()
                    .unwrap_or("")
                    .contains("held afterwards")
            })
            .collect();
        assert_eq!(afterwards.len(), 1, "{list:#?}");
        eprintln!("held on arrival: {}", list.last().unwrap()["result"]);
        eprintln!("held afterwards: {}", afterwards[0]["result"]);
        assert!(afterwards[0]["recipients"][0]
            .as_str()
            .unwrap()
            .ends_with("@slow.example"));
    }

    // Both hosts read the same campaign: 30 recipients, 30 copies, a threat.
    let list = palisade(&["campaign", "list", "--json"], &a.daemon.config_path());
    let campaign = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["recipients"] == 30)
        .unwrap_or_else(|| panic!("no campaign of 30: {list:#?}"))
        .clone();
    assert_eq!(campaign["threat"], true);
    assert_eq!(campaign["copies"], 30);
    assert_eq!(campaign["senders"], 1);
    let id = campaign["id"].as_str().unwrap();
    let show = palisade(&["campaign", "show", id, "--json"], &b.daemon.config_path());
    let messages = show["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 30, "{show:#}");
    let mut to: Vec<String> = messages
        .iter()
        .map(|m| m["recipients"][0].as_str().unwrap().to_string())
        .collect();
    to.sort();
    let mut expected: Vec<String> = (0..30)
        .map(|k| {
            threat(
                k,
                if k < 2 {
                    "slow.example"
                } else {
                    "county.example"
                },
            )
            .to
        })
        .collect();
    expected.sort();
    assert_eq!(to, expected);
    for host in ["mx1", "mx2"] {
        assert_eq!(messages.iter().filter(|m| m["host"] == host).count(), 15);
    }
    assert_eq!(
        messages
            .iter()
            .filter(|m| m["action"] == "quarantine")
            .count(),
        21
    );
    assert!(messages
        .iter()
        .all(|m| !m["queue_id"].as_str().unwrap().is_empty()));

    // The text forms, as an office reads them (printed for docs/campaigns.md).
    let text = |args: &[&str]| {
        let out = palisade_e2e::palisade_cli(args, &a.daemon.config_path()).unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = text(&["campaign", "list", "--threats"]);
    eprintln!("$ palisade campaign list --threats\n{listed}");
    assert!(listed.starts_with("ID "), "{listed}");
    assert_eq!(
        listed.lines().count(),
        2,
        "one threatening campaign: {listed}"
    );
    assert!(listed.contains(id), "{listed}");
    let shown = text(&["campaign", "show", id]);
    eprintln!("$ palisade campaign show {id}\n{shown}");
    assert!(shown.contains("recipients        30"), "{shown}");
    assert!(shown.contains(&expected[0]), "{shown}");
    assert_eq!(
        shown.lines().filter(|l| l.contains(" quarantine ")).count(),
        21
    );
    // Without the key, recipients stay sealed.
    let keyless = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        keyless.path(),
        std::fs::read_to_string(a.daemon.config_path())
            .unwrap()
            .replace(&key.display().to_string(), "/nonexistent/campaign.key"),
    )
    .unwrap();
    let sealed = palisade(&["campaign", "show", id, "--json"], keyless.path());
    assert!(sealed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["recipients"].is_null() && m["queue_id"].is_string()));

    // Nothing in Redis is an address or text in clear.
    let dump = redis.cli(&["--no-raw", "KEYS", "*"]).unwrap();
    let mut everything = dump.clone();
    for key in dump.lines() {
        let key = key.trim_start_matches(|c: char| c.is_ascii_digit() || c == ')' || c == ' ');
        let key = key.trim_matches('"');
        for cmd in [["HGETALL", key], ["ZRANGE", key]] {
            let mut args = cmd.to_vec();
            if cmd[0] == "ZRANGE" {
                args.extend(["0", "-1"]);
            }
            everything.push_str(&redis.cli(&args).unwrap_or_default());
        }
    }
    assert!(everything.contains("palisade:campaign:"), "{everything}");
    for k in 0..30 {
        let (name, street, _) = voter(k);
        let address = threat(k, "county.example").to;
        let local = address.split('@').next().unwrap();
        assert!(!everything.contains(&name), "{name} stored in clear");
        assert!(!everything.contains(&street), "{street} stored in clear");
        assert!(!everything.contains(local), "{local} stored in clear");
    }
    assert!(!everything.contains("consequences"));

    // The daemons counted it.
    let metrics = Client::new(a.daemon.http_addr())
        .get("/metrics")
        .unwrap()
        .text();
    assert!(
        metrics.contains("palisade_campaign_holds_total{result=\"held\"} 1"),
        "{metrics}"
    );
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("palisade_campaigns_active ") && !l.ends_with(" 0")));
}

/// `palisade_scan_duration_seconds{stage="total"}`: (observations, observations at or
/// under `le`).
fn totals(metrics: &str, le: &str) -> (u64, u64) {
    let value = |prefix: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        value("palisade_scan_duration_seconds_count{stage=\"total\"}"),
        value(&format!(
            "palisade_scan_duration_seconds_bucket{{stage=\"total\",le=\"{le}\"}}"
        )),
    )
}

#[test]
fn redis_hanging_or_dying_mid_run_delays_no_message_and_loses_none() {
    let mut redis = RedisServer::start().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("campaign.key");
    let h = host("mx1", &redis, &key, false);
    let recipients = |h: &Host| -> u64 {
        let list = palisade(&["campaign", "list", "--json"], &h.daemon.config_path());
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["recipients"].as_u64().unwrap())
            .max()
            .unwrap_or(0)
    };
    let mut sent = 0;
    for k in 0..5 {
        send(&h, &threat(k, "county.example"));
        sent += 1;
    }
    assert_eq!(recipients(&h), 5);

    // Hung: connections open, no answers. Then gone.
    redis.freeze().unwrap();
    for k in 5..11 {
        send(&h, &threat(k, "county.example"));
        send(&h, &unrelated(k));
        sent += 2;
    }
    redis.kill().unwrap();
    for k in 11..14 {
        send(&h, &threat(k, "county.example"));
        sent += 1;
    }
    // Every message was judged within the timeout (300 ms) plus its own scan: none in
    // the total-time histogram above 0.8192 s.
    let metrics = Client::new(h.daemon.http_addr())
        .get("/metrics")
        .unwrap()
        .text();
    let (count, fast) = totals(&metrics, "0.8192");
    assert_eq!(count, sent as u64, "{metrics}");
    assert_eq!(fast, count, "a message waited on Redis: {metrics}");
    let errors: u64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("palisade_campaign_store_errors_total{") && l.contains("op=\"observe\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(errors >= 1, "{metrics}");

    // None lost: everything sent is delivered (or held), and each copy judged without
    // campaign data says so.
    let delivered =
        h.pf.wait_delivered(sent - 5, Duration::from_secs(30))
            .unwrap();
    let held = h.pf.held();
    assert_eq!(
        delivered.len() + held.len(),
        sent,
        "{delivered:#?} {held:?}"
    );
    let outage: Vec<String> = delivered
        .iter()
        .map(|m| result_header(m))
        .filter(|r| r.contains("STATE_UNAVAILABLE"))
        .collect();
    assert_eq!(outage.len(), 6 * 2 + 3, "{delivered:#?}");

    // Back (same data, from its append-only file): the daemon reconnects within a
    // couple of seconds (its first call after the rest may still fail: that one only
    // starts the reconnection), and counting resumes where it was.
    redis.restart().unwrap();
    let restarted = std::time::Instant::now();
    let mut back = false;
    for i in 0..20 {
        let mut probe = unrelated(100 + i);
        probe.data = probe
            .data
            .replace("Canvass schedule", &format!("Probe {i}"));
        send(&h, &probe);
        sent += 1;
        let delivered =
            h.pf.wait_delivered(sent - 5, Duration::from_secs(30))
                .unwrap();
        let header = delivered
            .iter()
            .find(|m| {
                m.contains(&format!("Subject: Probe {i}\r"))
                    || m.contains(&format!("Subject: Probe {i}\n"))
            })
            .map(|m| result_header(m))
            .unwrap_or_default();
        if !header.is_empty() && !header.contains("STATE_UNAVAILABLE") {
            eprintln!(
                "counting resumed {:.2} s after Redis answered again (probe {i})",
                restarted.elapsed().as_secs_f64()
            );
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        back,
        "the daemon never used Redis again: {}",
        h.daemon.log()
    );
    for k in 14..19 {
        send(&h, &threat(k, "county.example"));
    }
    assert_eq!(recipients(&h), 10, "{}", h.daemon.log());
}
