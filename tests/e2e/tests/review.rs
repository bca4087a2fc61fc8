//! The quarantine review side through a real Postfix: a threat is held, reviewers sign
//! in (API and HTML forms), read the plain-words explanation, release it under dual
//! control with a reason, and it is delivered; partial release, legal hold, export with
//! ARF, notifications through Postfix's sendmail; the audit log verifies, and editing a
//! byte of it (or removing an entry) makes `palisade audit verify` fail. Also: whatever
//! a message carries is shown escaped, and no request without a session and a CSRF token
//! changes anything.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use palisade::config::{Config, Sources};
use palisade::{start, Running};
use palisade_e2e::dns::DnsServer;
use palisade_e2e::web::{add_user, hidden, Client};
use palisade_e2e::{
    fixture, free_port, palisade_bin, smtp_session, Outgoing, Postfix, PostfixConfig,
};
use serde_json::json;

const PW: &str = "correct horse battery staple";

fn dns() -> DnsServer {
    palisade_e2e::dns::proud_boys().unwrap()
}

/// A world: DNS, Postfix, a config file, the daemon with the review UI, and users.
struct World {
    _dns: DnsServer,
    pf: Postfix,
    running: Option<Running>,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl World {
    async fn new(extra: &str) -> World {
        let dns = dns();
        let port = free_port().unwrap();
        let pf = Postfix::start(&PostfixConfig::with_milter(&format!(
            "inet:127.0.0.1:{port}"
        )))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("palisade.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[milter]
listen = "inet:127.0.0.1:{port}"
[http]
listen = "127.0.0.1:0"
[dns]
nameservers = ["{ns}"]
timeout = "500ms"
[auth]
authserv_id = "mx.palisade.test"
[policy]
trusted_networks = []
[quarantine]
postfix_config = "{pfdir}"
[state]
dir = "{state}"
[web]
listen = "127.0.0.1:0"
login_attempts = 3
{extra}
"#,
                ns = dns.nameserver(),
                pfdir = pf.config_dir().display(),
                state = dir.path().join("state").display(),
            ),
        )
        .unwrap();
        let c = Config::load(&Sources {
            file: Some(config.clone()),
            env: vec![],
        })
        .unwrap();
        let running = start(c).await.unwrap();
        for (name, role) in [
            ("clerk", "reviewer"),
            ("officer", "reviewer"),
            ("auditor", "auditor"),
            ("admin", "admin"),
        ] {
            add_user(&config, name, role, PW).unwrap();
        }
        World {
            _dns: dns,
            pf,
            running: Some(running),
            dir,
            config,
        }
    }

    fn web(&self) -> Client {
        Client::new(self.running.as_ref().unwrap().web.unwrap())
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("state").join("palisade.db")
    }

    fn send(&self, to: &[&str], data: &str) -> String {
        let mut replies = Vec::new();
        for t in to {
            replies.push(
                smtp_session(
                    self.pf.smtp,
                    &[Outgoing {
                        from: "info@officialproudboys.test".into(),
                        to: (*t).into(),
                        data: data.into(),
                    }],
                )
                .unwrap()
                .remove(0),
            );
        }
        replies.join("\n")
    }

    fn palisade(&self, args: &[&str]) -> std::process::Output {
        palisade_e2e::palisade_cli(args, &self.config).unwrap()
    }

    /// Delivered messages whose text contains `needle`.
    fn delivered_with(&self, needle: &str) -> Vec<String> {
        self.pf
            .delivered()
            .into_iter()
            .filter(|m| m.contains(needle))
            .collect()
    }

    fn wait_delivered_with(&self, needle: &str, n: usize) -> Vec<String> {
        palisade_e2e::wait_for(Duration::from_secs(30), || {
            self.delivered_with(needle).len() >= n
        })
        .unwrap_or_else(|e| {
            panic!(
                "{e}: {n} delivered with {needle:?}; log:\n{}",
                self.pf.maillog()
            )
        });
        self.delivered_with(needle)
    }
}

fn tar_files(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut a = tar::Archive::new(tar_bytes);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((name, data));
    }
    out
}

fn file<'a>(files: &'a [(String, Vec<u8>)], suffix: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n.ends_with(suffix)).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_releases_a_held_threat_and_the_audit_log_proves_it() {
    let mut w = World::new(
        "dual_control = true\n[notify]\nreport_from = \"abuse@county.example\"\ndigest_to = [\"reviewers@county.example\"]\nrecipients = true\ninterval = \"1s\"\ndigest_interval = \"1s\"\nweb_url = \"https://mx.county.example:9896\"\n",
    )
    .await;
    let reply = w.send(&["voter@county.example"], &fixture("proud-boys-2020.eml"));
    assert!(reply.starts_with("250"), "{reply}");
    let id =
        w.pf.wait_held(1, Duration::from_secs(30))
            .unwrap()
            .remove(0);

    // Nobody signed in: 401 from the API, the sign-in page from the UI.
    let mut anon = w.web();
    assert_eq!(anon.get("/api/v1/quarantine").unwrap().status, 401);
    let r = anon.get(&format!("/quarantine/{id}")).unwrap();
    let back_here = format!("/login?next=%2Fquarantine%2F{id}");
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some(back_here.as_str())),
        "the sign-in page comes back to the message"
    );
    assert_eq!(
        anon.api_login("clerk", "wrong password!!").unwrap().status,
        401
    );

    // The auditor reads but cannot act.
    let mut auditor = w.web();
    let r = auditor.api_login("auditor", PW).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let list = auditor.get("/api/v1/quarantine").unwrap().json();
    let item = &list["messages"][0];
    assert_eq!(item["queue_id"], id.as_str());
    assert_eq!(item["sender"], "info@officialproudboys.test");
    assert_eq!(
        item["subject"],
        "[SUSPECTED THREAT] Vote for Trump or else!"
    );
    assert!(item["score"].as_f64().unwrap() >= 10.0);
    assert!(!item["symbols"].as_array().unwrap().is_empty());
    let r = auditor
        .act(&id, "release", &json!({"reason": "x"}))
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());

    // The clerk signs in through the HTML form, as a person does.
    let mut clerk = w.web();
    let form = clerk.get("/login").unwrap();
    let login_cookie = form
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("palisade_login="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = hidden(&form.text(), "csrf").unwrap();
    let r = clerk
        .post_form(
            "/login",
            &[("csrf", &csrf), ("user", "clerk"), ("password", PW)],
            Some(&login_cookie),
        )
        .unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    let cookie = r
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("palisade_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let page = clerk.get(&format!("/quarantine/{id}")).unwrap();
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("Why it was held"), "{html}");
    assert!(html.contains("Held because:"), "{html}");
    assert!(
        html.contains("NOT allowed to send mail for officialproudboys.test"),
        "{html}"
    );
    assert!(html.contains("come after you"), "the body is shown as text");
    let page_csrf = hidden(&html, "csrf").unwrap();

    // The same explanation through the API.
    let mut clerk_api = w.web();
    clerk_api.api_login("clerk", PW).unwrap();
    let view = clerk_api
        .get(&format!("/api/v1/quarantine/{id}"))
        .unwrap()
        .json();
    assert_eq!(view["explanation"]["threat"], true);
    assert_eq!(
        view["explanation"]["recorded"], true,
        "the daemon recorded the verdict"
    );
    assert!(view["explanation"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| !f["evidence"].as_str().unwrap().is_empty()));

    // Dual control: the clerk's release is a request; the clerk again is refused; the
    // officer's release delivers it. A release from the page is asked twice: the first
    // post only shows who would receive it.
    let r = clerk
        .post_form(
            &format!("/quarantine/{id}/release"),
            &[
                ("csrf", &page_csrf),
                ("scope", "all"),
                ("reason", "voter asked to see it; sender known"),
            ],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let confirm = r.text();
    assert!(confirm.contains("Release this message?"), "{confirm}");
    assert!(
        confirm.contains("<li>voter@county.example</li>"),
        "{confirm}"
    );
    assert!(confirm.contains("Dual control"), "{confirm}");
    assert!(
        w.pf.held().contains(&id),
        "nothing happens before the confirmation"
    );
    let r = clerk
        .post_form(
            &format!("/quarantine/{id}/release"),
            &[
                ("csrf", &page_csrf),
                ("confirmed", "yes"),
                ("recipient", "voter@county.example"),
                ("reason", "voter asked to see it; sender known"),
            ],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(
        w.pf.held().contains(&id),
        "one reviewer is not enough for a threat"
    );
    let r = clerk_api
        .act(&id, "release", &json!({"reason": "again"}))
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    let mut officer = w.web();
    officer.api_login("officer", PW).unwrap();
    let r = officer.act(&id, "release", &json!({"reason": ""})).unwrap();
    assert_eq!(r.status, 400, "a reason is required: {}", r.text());
    let r = officer
        .act(
            &id,
            "release",
            &json!({"reason": "second check: deliver to voter"}),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"], "released");
    // It arrives without Palisade's warning marks, saying who released it.
    let got = w.wait_delivered_with("Subject: Vote for Trump or else!", 1);
    assert!(got[0].contains("voter@county.example"));
    assert!(
        got[0].contains("X-Palisade-Released: by officer;"),
        "{}",
        got[0]
    );
    assert!(
        !got[0].contains("[SUSPECTED THREAT]") && !got[0].contains("X-Spam-Flag"),
        "{}",
        got[0]
    );
    assert!(!w.pf.held().contains(&id));

    // Notifications went through Postfix: a notice to the voter (without the threat's
    // words) and a digest to the reviewers.
    let notices = w.wait_delivered_with("A message to you is being held for review", 1);
    assert!(notices[0].contains("voter@county.example"));
    assert!(!notices[0].contains("come after you") && !notices[0].contains("Vote for Trump"));
    let digests = w.wait_delivered_with("Palisade: 1 message(s) held for review", 1);
    assert!(
        digests[0].contains("reviewers@county.example"),
        "{digests:?}"
    );
    assert!(digests[0].contains(&format!("https://mx.county.example:9896/quarantine/{id}")));

    // A second threat to two people: a copy to one of them, then legal hold, export,
    // delete refused under hold, allowed once lifted.
    let second = palisade_e2e::message_file(
        w.dir.path(),
        "second.eml",
        &fixture("proud-boys-2020.eml").replace("Vote for Trump or else!", "Second warning"),
    )
    .unwrap();
    let out =
        w.pf.swaks(&[
            "--from",
            "info@officialproudboys.test",
            "--to",
            "a@county.example,b@county.example",
            "--data",
            second.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    palisade_e2e::wait_for(Duration::from_secs(30), || w.pf.held().len() == 1).unwrap();
    let id2 = w.pf.held().remove(0);
    for who in [&mut clerk_api, &mut officer] {
        let r = who
            .act(&id2, "release", &json!({"reason": "a@ is the sheriff's liaison", "recipients": ["a@county.example"]}))
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let copies = w.wait_delivered_with("Subject: Second warning", 1);
    assert_eq!(copies.len(), 1);
    assert!(
        copies[0].contains("a@county.example") && !copies[0].contains("b@county.example"),
        "{}",
        copies[0]
    );
    assert!(w.pf.held().contains(&id2), "still held for b@");
    let state = clerk_api
        .get(&format!("/api/v1/quarantine/{id2}"))
        .unwrap()
        .json();
    assert_eq!(state["state"]["released_to"], json!(["a@county.example"]));
    let r = clerk_api
        .act(
            &id2,
            "hold",
            &json!({"reason": "case 2026-114, sheriff", "on": true}),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = clerk_api
        .act(&id2, "delete", &json!({"reason": "cleanup"}))
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(w.pf.held().contains(&id2));
    // a@ already has a copy: releasing to a@ again is refused.
    let r = clerk_api
        .act(
            &id2,
            "release",
            &json!({"reason": "again", "recipients": ["a@county.example"]}),
        )
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    // Under legal hold, releasing to everyone still waiting (b@) sends a copy and
    // keeps the original as evidence.
    for who in [&mut clerk_api, &mut officer] {
        let r = who
            .act(&id2, "release", &json!({"reason": "b@ asked for it"}))
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    w.wait_delivered_with("Subject: Second warning", 2);
    assert!(w.pf.held().contains(&id2), "kept under legal hold");
    let r = clerk_api
        .act(&id2, "release", &json!({"reason": "once more"}))
        .unwrap();
    assert_eq!(r.status, 409, "everyone has a copy: {}", r.text());
    let r = clerk_api
        .act(&id2, "report", &json!({"reason": "FBI tip line, ref 77"}))
        .unwrap();
    assert_eq!(r.status, 200);

    // The evidence bundle: the message byte for byte with its hash, verdict, audit, ARF.
    let r = auditor
        .get(&format!("/api/v1/quarantine/{id2}/export"))
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    let files = tar_files(&r.body);
    let raw = file(&files, "/message.eml");
    let postcat = Command::new("postcat")
        .args(["-c"])
        .arg(w.pf.config_dir())
        .args(["-h", "-b", "-q", &id2])
        .output()
        .unwrap();
    assert_eq!(raw, postcat.stdout.as_slice(), "byte for byte");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(raw));
    assert_eq!(
        String::from_utf8_lossy(file(&files, ".sha256")),
        format!("{sha}  message.eml\n")
    );
    let verdict: serde_json::Value = serde_json::from_slice(file(&files, "verdict.json")).unwrap();
    assert!(
        verdict["recorded"]["verdict"]["symbols"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    assert!(
        String::from_utf8_lossy(file(&files, "authentication-results.txt")).contains("spf=fail")
    );
    let audit: serde_json::Value = serde_json::from_slice(file(&files, "audit.json")).unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "export",
        "report",
        "legal-hold",
        "release",
        "release-requested",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    // The message as it arrived, before Palisade marked it: the subject without the
    // prefix, none of Palisade's fields, the same body.
    let original = String::from_utf8_lossy(file(&files, "message-as-received.eml")).into_owned();
    assert!(
        original.contains("\nSubject: Second warning\n"),
        "{original}"
    );
    assert!(
        !original.contains("X-Palisade-Result") && !original.contains("X-Spam-Flag"),
        "{original}"
    );
    assert!(original.contains("we will come after you"), "{original}");
    let arf = String::from_utf8_lossy(file(&files, "arf-report.eml")).into_owned();
    assert!(arf.contains("report-type=feedback-report") && arf.contains("Feedback-Type: abuse"));
    assert!(
        arf.starts_with("From: abuse@county.example\r\n"),
        "the organisation's reporting address: {arf}"
    );
    assert!(arf.contains("Original-Rcpt-To: <b@county.example>"));
    assert!(
        arf.contains("Source-IP: 127.0.0.1")
            && arf.contains("Reported-Domain: officialproudboys.test")
    );

    let r = clerk_api
        .act(&id2, "hold", &json!({"reason": "case closed", "on": false}))
        .unwrap();
    assert_eq!(r.status, 200);
    let r = clerk_api
        .act(
            &id2,
            "delete",
            &json!({"reason": "case closed; evidence exported"}),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(w.pf.held().is_empty());

    // The audit log has every step, with who and why, and the chain verifies.
    let log = auditor.get("/api/v1/audit").unwrap().json();
    assert_eq!(log["chain"]["intact"], true, "{log}");
    let entries = log["entries"].as_array().unwrap();
    let has = |actor: &str, action: &str, qid: &str, reason: &str| {
        entries.iter().any(|e| {
            e["actor"] == actor
                && e["action"] == action
                && e["queue_id"] == qid
                && e["reason"].as_str().unwrap().contains(reason)
        })
    };
    assert!(has("clerk", "view", &id, ""));
    assert!(has(
        "clerk",
        "release-requested",
        &id,
        "voter asked to see it"
    ));
    assert!(has("officer", "release", &id, "second check"));
    assert!(has("clerk", "delete", &id2, "case closed"));
    // What was deleted stays on record: sender, recipients and subject in the entry.
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "delete" && e["queue_id"] == id2.as_str())
        .unwrap();
    let detail = deleted["detail"].as_str().unwrap();
    for fact in [
        "subject \"[SUSPECTED THREAT] Second warning\"",
        "envelope info@officialproudboys.test",
        "a@county.example, b@county.example",
        "from Proud Boys <info@officialproudboys.test>",
    ] {
        assert!(detail.contains(fact), "{fact} in {detail}");
    }
    assert!(has("auditor", "export", &id2, ""));
    assert!(has("clerk", "login", "", ""));
    let out = w.palisade(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit log intact"));

    // Ops see the review work on /metrics.
    let metrics = Client::new(w.running.as_ref().unwrap().http)
        .get("/metrics")
        .unwrap()
        .text();
    for line in [
        "palisade_review_actions_total{action=\"release\"} 3",
        "palisade_review_actions_total{action=\"release_requested\"} 3",
        "palisade_review_actions_total{action=\"delete\"} 1",
        "palisade_review_actions_total{action=\"legal_hold\"} 2",
        "palisade_review_actions_total{action=\"export\"} 1",
        "palisade_review_logins_total{result=\"success\"} 4",
        "palisade_review_logins_total{result=\"failure\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }

    // Stop the daemon, then tamper.
    w.running.take().unwrap().shutdown().await.unwrap();
    let db = w.db();
    // Fold SQLite's write-ahead log into the file, so the log's bytes are all there.
    // The daemon's last database work may still be closing on a blocking thread when
    // shutdown returns: wait for SQLite's lock rather than fail on it.
    let status = Command::new("sqlite3")
        .arg("-cmd")
        .arg(".timeout 10000")
        .arg(&db)
        .arg("PRAGMA wal_checkpoint(TRUNCATE);")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "sqlite3 checkpoint: {}{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    let pristine = dir_copy(&db, &w.dir.path().join("copy"));
    let mut bytes = std::fs::read(&db).unwrap();
    let needle = b"second check: deliver to voter";
    let mut edited = 0;
    let mut from = 0;
    // SQLite may keep stale copies of a page; change the byte wherever the text is.
    while let Some(i) = bytes[from..]
        .windows(needle.len())
        .position(|x| x == needle)
    {
        bytes[from + i] = b'S';
        from += i + needle.len();
        edited += 1;
    }
    assert!(edited > 0, "the reason is in the file");
    std::fs::write(&db, &bytes).unwrap();
    let out = w.palisade(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NOT intact") && err.contains("altered"),
        "{err}"
    );

    // Removing the newest entry (past the append-only trigger) is caught by the head.
    let status = Command::new("sqlite3")
        .arg(&pristine)
        .arg("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit);")
        .status()
        .unwrap();
    assert!(status.success());
    let cfg = w.dir.path().join("copy.toml");
    std::fs::write(
        &cfg,
        format!("[web]\ndatabase = \"{}\"\n", pristine.display()),
    )
    .unwrap();
    let out = Command::new(palisade_bin().unwrap())
        .args(["audit", "verify", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("entries were removed"));
}

/// Copies a database and its audit head into `dir`; returns the copy's path.
fn dir_copy(db: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let name = db.file_name().unwrap();
    let copy = dir.join(name);
    std::fs::copy(db, &copy).unwrap();
    let head = |p: &Path| {
        let mut n = p.file_name().unwrap().to_os_string();
        n.push(".audit-head");
        p.with_file_name(n)
    };
    std::fs::copy(head(db), head(&copy)).unwrap();
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_content_is_escaped_and_nothing_changes_without_session_and_csrf() {
    let w = World::new("").await;
    let long: String = (0..20)
        .map(|i| format!("{}{}", if i == 0 { "" } else { "\n " }, "A".repeat(500)))
        .collect();
    let msg = format!(
        "From: Proud Boys <info@officialproudboys.test>\nTo: voter@county.example\nSubject: =?UTF-8?B?{}?=\nX-Long: {long}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n<script>document.title='pwned'</script>\nLiteral &lt;b&gt;entities&lt;/b&gt; &amp; more.\nYou will vote for Trump on Election Day or we will come after you.\nWe have your home address.\n",
        base64::engine::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "<script>alert(1)</script> &amp; \u{1b}]0;pwn\u{7} <img src=x onerror=alert(2)>"
        )
    );
    let reply = w.send(&["voter@county.example"], &msg);
    assert!(reply.starts_with("250"), "{reply}");
    let id =
        w.pf.wait_held(1, Duration::from_secs(30))
            .unwrap()
            .remove(0);

    let mut admin = w.web();
    admin.api_login("admin", PW).unwrap();
    for path in [format!("/quarantine/{id}"), "/quarantine".to_string()] {
        // The HTML pages need the cookie only; the API login set it.
        let page = admin.get(&path).unwrap();
        assert_eq!(page.status, 200, "{path}");
        let html = page.text();
        // The one script is the page's own file (the CSP allows no other).
        assert_eq!(
            html.matches("<script").count(),
            1,
            "{path}: raw script tag in\n{html}"
        );
        assert!(
            html.contains("<script src=\"/static/page.js\" defer></script>"),
            "{path}"
        );
        assert!(!html.contains("<img"), "{path}: raw img tag");
        assert!(
            !html.contains('\u{1b}') && !html.contains('\u{7}'),
            "{path}: raw control characters"
        );
        assert!(
            shown(&html, "<script>alert(1)</script> &amp; "),
            "{path}: the subject is shown as text"
        );
        assert!(
            html.contains("\\e]0;pwn\\x07"),
            "{path}: controls are shown as escapes"
        );
        let csp = page.header("content-security-policy").unwrap();
        // Scripts only from the UI itself: no inline script, nothing a message carries.
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("script-src 'self';")
                && !csp.contains("unsafe"),
            "{csp}"
        );
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    }
    let html = admin.get(&format!("/quarantine/{id}")).unwrap().text();
    assert!(
        shown(&html, "<script>document.title='pwned'</script>"),
        "the body's tag is text"
    );
    assert!(
        shown(&html, "Literal &lt;b&gt;entities"),
        "entities are shown as typed"
    );
    let x_long = html
        .split("<th>X-Long</th>")
        .nth(1)
        .unwrap()
        .split("</td>")
        .next()
        .unwrap();
    assert!(
        x_long.matches('A').count() >= 10_000,
        "the whole long header is shown"
    );

    // Nothing changes without a session, or with a session but without its CSRF token.
    let csrf = admin.csrf.clone().unwrap();
    let mut anon = w.web();
    let api_actions = ["release", "delete", "report", "hold"];
    for a in api_actions {
        let r = anon
            .post_json(
                &format!("/api/v1/quarantine/{id}/{a}"),
                &json!({"reason": "x"}),
                false,
            )
            .unwrap();
        assert_eq!(r.status, 401, "anonymous {a}");
        let r = admin
            .post_json(
                &format!("/api/v1/quarantine/{id}/{a}"),
                &json!({"reason": "x"}),
                false,
            )
            .unwrap();
        assert_eq!(r.status, 403, "{a} without X-CSRF-Token");
        admin.csrf = Some("0".repeat(64));
        let r = admin
            .post_json(
                &format!("/api/v1/quarantine/{id}/{a}"),
                &json!({"reason": "x"}),
                true,
            )
            .unwrap();
        assert_eq!(r.status, 403, "{a} with a wrong X-CSRF-Token");
        admin.csrf = Some(csrf.clone());
        assert_eq!(
            admin.get(&format!("/quarantine/{id}/{a}")).unwrap().status,
            405,
            "GET {a}"
        );
    }
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/quarantine/{id}/release"), vec![("reason", "x")]),
        (format!("/quarantine/{id}/delete"), vec![("reason", "x")]),
        (format!("/quarantine/{id}/report"), vec![("reason", "x")]),
        (
            format!("/quarantine/{id}/hold"),
            vec![("reason", "x"), ("on", "1")],
        ),
        (
            "/users".into(),
            vec![
                ("name", "mallory"),
                ("role", "admin"),
                ("password", "mallory-password"),
            ],
        ),
        ("/users/clerk/remove".into(), vec![]),
        ("/logout".into(), vec![]),
    ];
    for (path, fields) in &forms {
        let r = anon.post_form(path, fields, None).unwrap();
        assert_eq!(r.status, 401, "anonymous POST {path}");
        let r = admin.post_form(path, fields, None).unwrap();
        assert_eq!(r.status, 403, "POST {path} without a CSRF token");
        let mut wrong = fields.clone();
        wrong.push(("csrf", "not-the-token"));
        let r = admin.post_form(path, &wrong, None).unwrap();
        assert_eq!(r.status, 403, "POST {path} with a wrong CSRF token");
    }
    // An action on something that is not a queue id is a plain "not found", whatever
    // the path carries (a line break here): no redirect is built from it.
    let token = admin.csrf.clone().unwrap();
    for action in ["release", "delete"] {
        let r = admin
            .post_form(
                &format!("/quarantine/4ABC%0D%0ALocation:%20x/{action}"),
                &[
                    ("csrf", &token),
                    ("confirmed", "yes"),
                    ("reason", "x"),
                    ("recipient", "voter@county.example"),
                ],
                None,
            )
            .unwrap();
        assert_eq!(r.status, 404, "{action}: {}", r.text());
        assert!(
            r.text().contains("is not a Postfix queue id"),
            "{}",
            r.text()
        );
    }
    // What another site's page could make a browser send is refused outright.
    let r = (|| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let addr = w.running.as_ref().unwrap().web.unwrap();
        let mut res = agent
            .post(format!("http://{addr}/api/v1/login"))
            .header("Content-Type", "text/plain")
            .send(json!({"user": "admin", "password": PW}).to_string())?;
        let plain = res.status().as_u16();
        let _ = res.body_mut().read_to_string();
        let mut res = agent
            .post(format!("http://{addr}/api/v1/quarantine/{id}/delete"))
            .header("Content-Type", "application/json")
            .header(
                "Cookie",
                format!("palisade_session={}", admin.session.clone().unwrap()),
            )
            .header("X-CSRF-Token", &csrf)
            .header("Origin", "https://evil.example")
            .send(json!({"reason": "x"}).to_string())?;
        let foreign = res.status().as_u16();
        let _ = res.body_mut().read_to_string();
        let mut res = agent
            .post(format!("http://{addr}/quarantine/{id}/delete"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header(
                "Cookie",
                format!("palisade_session={}", admin.session.clone().unwrap()),
            )
            .header("Sec-Fetch-Site", "cross-site")
            .send(format!("csrf={csrf}&reason=x"))?;
        assert_eq!(res.status().as_u16(), 403, "Sec-Fetch-Site: cross-site");
        let _ = res.body_mut().read_to_string();
        Ok::<_, anyhow::Error>((plain, foreign))
    })();
    let (plain, foreign) = r.unwrap();
    assert_eq!(
        plain, 415,
        "a text/plain sign-in (a cross-site form) is refused"
    );
    assert_eq!(foreign, 403, "a foreign Origin is refused");
    // A sign-in form posted without its own token is refused too.
    let r = anon
        .post_form("/login", &[("user", "admin"), ("password", PW)], None)
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(anon.session.is_none());

    // So: still held, no hold, not reported, same users, and no action in the log.
    assert!(w.pf.held().contains(&id));
    let view = admin
        .get(&format!("/api/v1/quarantine/{id}"))
        .unwrap()
        .json();
    assert_eq!(view["state"]["legal_hold"], false);
    assert!(view["state"]["reported"].is_null());
    let users = String::from_utf8_lossy(&w.palisade(&["user", "list"]).stdout).into_owned();
    assert!(
        users.contains("clerk") && !users.contains("mallory"),
        "{users}"
    );
    let log = admin.get("/api/v1/audit").unwrap().json();
    let acted: Vec<String> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "admin")
        .map(|e| e["action"].as_str().unwrap().to_string())
        .filter(|a| !["login", "view"].contains(&a.as_str()))
        .collect();
    assert!(acted.is_empty(), "{acted:?}");

    // Sign-ins are rate limited: after 3 failures the right password is refused too.
    let mut guesser = w.web();
    for _ in 0..3 {
        assert_eq!(
            guesser
                .api_login("auditor", "guess guess guess")
                .unwrap()
                .status,
            401
        );
    }
    assert_eq!(guesser.api_login("auditor", PW).unwrap().status, 429);

    // Signing out ends the session for good.
    let old = admin.session.clone();
    let r = admin.post_json("/api/v1/logout", &json!({}), true).unwrap();
    assert_eq!(r.status, 200);
    admin.session = old;
    assert_eq!(admin.get("/api/v1/quarantine").unwrap().status, 401);
}

/// Whether `text` appears in the page HTML-escaped (named or numeric references).
fn shown(html: &str, text: &str) -> bool {
    let numeric: String = text
        .chars()
        .map(|c| match c {
            '<' => "&#60;".to_string(),
            '>' => "&#62;".to_string(),
            '&' => "&#38;".to_string(),
            '"' => "&#34;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect();
    let named = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;");
    html.contains(&numeric) || html.contains(&named)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_required_off_loopback_and_cookies_are_secure_under_it() {
    let dir = tempfile::tempdir().unwrap();
    // Without a certificate, a non-loopback address is refused at config check.
    let plain = dir.path().join("plain.toml");
    std::fs::write(&plain, "[web]\nlisten = \"0.0.0.0:9896\"\n").unwrap();
    let out = Command::new(palisade_bin().unwrap())
        .args(["config", "check", "--config"])
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("web.listen"));

    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.milter.listen = "inet:127.0.0.1:0".into();
    c.http.listen = "127.0.0.1:0".into();
    c.web.listen = "127.0.0.1:0".into();
    c.web.database = dir.path().join("p.db").display().to_string();
    c.web.tls_cert = cert.display().to_string();
    c.web.tls_key = key.display().to_string();
    let running = start(c).await.unwrap();
    let cfg = dir.path().join("p.toml");
    std::fs::write(
        &cfg,
        format!(
            "[web]\ndatabase = \"{}\"\n",
            dir.path().join("p.db").display()
        ),
    )
    .unwrap();
    add_user(&cfg, "clerk", "reviewer", PW).unwrap();
    let addr = running.web.unwrap();
    let out = Command::new("curl")
        .args([
            "-sk",
            "-i",
            "-H",
            "Content-Type: application/json",
            "--data",
        ])
        .arg(json!({"user": "clerk", "password": PW}).to_string())
        .arg(format!("https://{addr}/api/v1/login"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let cookie = text
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: palisade_session=")
        })
        .unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // Plain HTTP to the TLS port gets no page.
    let r = Client::new(addr).get("/login");
    assert!(r.is_err() || r.unwrap().status >= 400);
    running.shutdown().await.unwrap();
}

/// Sends `text` with swaks from `from` to `to` (one transaction) and returns the queue
/// id it was held under.
fn send_held(w: &World, name: &str, from: &str, to: &str, text: &str) -> String {
    let before = w.pf.held();
    let file = palisade_e2e::message_file(w.dir.path(), name, text).unwrap();
    let out =
        w.pf.swaks(&["--from", from, "--to", to, "--data", file.to_str().unwrap()])
            .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    w.pf.wait_held(before.len() + 1, Duration::from_secs(30))
        .unwrap();
    let id =
        w.pf.held()
            .into_iter()
            .find(|id| !before.contains(id))
            .unwrap();
    // Arrival times have one-second resolution: keep the list's order certain.
    std::thread::sleep(Duration::from_millis(1100));
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_works_in_a_real_browser() {
    palisade_e2e::require_tools(&["chromium", "/usr/bin/python3", "swaks"]).unwrap();
    let w = World::new("").await;
    // A threat whose From header is not its envelope sender, to two people.
    let two = send_held(
        &w,
        "two.eml",
        "bounce-7731@bulkmailer.test",
        "clerk@county.example,deputy@county.example",
        "From: County Clerk <clerk@county.example>\nTo: clerk@county.example, deputy@county.example\nSubject: Certification notice\n\nWe know where you live. Certify the results or we will burn your office down.\n",
    );
    // Markup in the subject and body: shown as text, never run.
    let scripted = send_held(
        &w,
        "scripted.eml",
        "info@officialproudboys.test",
        "clerk@county.example",
        "From: Proud Boys <info@officialproudboys.test>\nTo: clerk@county.example\nSubject: Final notice <script>alert(1)</script>\n\n<script>document.title='pwned'</script>\nWe know where you live. Certify the results or we will burn your office down.\n",
    );
    // A second copy of it to someone else: one row in the list, with its copy under it.
    let copy = send_held(
        &w,
        "scripted2.eml",
        "info@officialproudboys.test",
        "elections@county.example",
        "From: Proud Boys <info@officialproudboys.test>\nTo: elections@county.example\nSubject: Final notice <script>alert(1)</script>\n\n<script>document.title='pwned'</script>\nWe know where you live. Certify the results or we will burn your office down.\n",
    );
    // A Spanish threat to two people, encoded subject.
    let spanish = send_held(
        &w,
        "spanish.eml",
        "aviso@amenazas.test",
        "registro@county.example,jefa@county.example",
        "From: =?utf-8?q?Un_vecino?= <aviso@amenazas.test>\nTo: registro@county.example, jefa@county.example\nSubject: =?utf-8?q?=C3=9Altimo_aviso?=\nContent-Type: text/plain; charset=utf-8\n\nSabemos donde vives. Si no renuncias antes del lunes, te vamos a matar.\n",
    );
    let newest = send_held(
        &w,
        "2020.eml",
        "info@officialproudboys.test",
        "voter@county.example",
        &fixture("proud-boys-2020.eml"),
    );
    let shots = std::env::var_os("PALISADE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| w.dir.path().join("shots"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/review_ui.py");
    let addr = w.running.as_ref().unwrap().web.unwrap();
    let ids = json!({"two": two, "scripted": scripted, "spanish": spanish, "newest": newest});
    let out = tokio::task::spawn_blocking(move || {
        Command::new("/usr/bin/python3")
            .arg(script)
            .arg(format!("http://{addr}"))
            .args(["clerk", PW])
            .arg(&shots)
            .arg(ids.to_string())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = |k: &str| seen[k].as_str().unwrap_or_default().to_string();

    // Signing in from a link comes back to the message; a wrong password keeps the name.
    assert_eq!(seen["redirected_to_login"], true, "{seen}");
    assert_eq!(seen["user_kept"], "clerk", "{seen}");
    assert!(
        text("login_error").contains("Wrong user name or password"),
        "{seen}"
    );
    assert_eq!(text("after_login"), format!("/quarantine/{two}"), "{seen}");

    // The list: what the recipient saw, the envelope beside it, the queue id, a band.
    assert_eq!(seen["list_rows"], 4, "{seen}");
    assert_eq!(
        seen["copies"],
        json!(["1 more copy of this message (same sender and subject)"]),
        "{seen}"
    );
    assert!(text("copies_text").contains(&scripted), "{seen}");
    assert!(text("list_text").contains(&copy), "{seen}");
    assert!(
        text("list_text")
            .contains("County Clerk\nclerk@county.example\nenvelope: bounce-7731@bulkmailer.test"),
        "{seen}"
    );
    assert!(text("list_text").contains(&newest), "{seen}");
    assert!(text("list_text").contains("Threat of violence"), "{seen}");
    assert!(!text("list_text").contains("[SUSPECTED THREAT]"), "{seen}");
    assert_eq!(seen["search_name_rows"], 1, "{seen}");
    assert_eq!(seen["search_id_rows"], 1, "{seen}");
    assert!(
        text("search_id_text").contains("Vote for Trump or else!"),
        "{seen}"
    );
    assert!(text("bad_filter").contains("must be a number"), "{seen}");

    // The message: plain words, the score against its threshold, no script.
    assert!(text("explanation").starts_with("Held because:"), "{seen}");
    assert!(text("score").contains("(held at 10)"), "{seen}");
    assert_eq!(seen["slot_names_shown"], false, "{seen}");
    assert_eq!(seen["page_scripts"], json!(["/static/page.js"]), "{seen}");
    assert!(!text("title").contains("pwned"), "{seen}");

    // Release to all: the confirmation lists both people before anything is sent.
    assert_eq!(
        seen["confirm_recipients"],
        json!(["clerk@county.example", "deputy@county.example"]),
        "{seen}"
    );
    // Double-clicked: delivered once; the clerk sees what happened, not "Not found".
    assert!(
        text("after_double_submit").contains("clerk@county.example, deputy@county.example"),
        "{seen}"
    );
    assert!(!text("after_double_submit").contains("Not found"), "{seen}");
    let copies = w.wait_delivered_with("Subject: Certification notice", 1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        w.delivered_with("Subject: Certification notice").len(),
        1,
        "delivered exactly once"
    );
    assert!(
        copies[0].contains("X-Palisade-Released: by clerk;"),
        "{}",
        copies[0]
    );
    assert!(!w.pf.held().contains(&two));

    // Release to one: only she is listed; she cannot be chosen again; partly released.
    assert_eq!(
        seen["one_confirm_recipients"],
        json!(["registro@county.example"]),
        "{seen}"
    );
    assert!(
        text("one_notice").contains("registro@county.example"),
        "{seen}"
    );
    assert_eq!(seen["served_disabled"], true, "{seen}");
    assert!(text("list_after_one").contains("partly released"), "{seen}");
    w.wait_delivered_with("registro@county.example", 1);
    assert!(w.pf.held().contains(&spanish), "still held for jefa@");
    // The Spanish threat is explained in English, quoting the sender's words.
    assert!(
        text("spanish_findings").contains("Threatens violence or harm"),
        "{seen}"
    );
    assert!(text("spanish_findings").contains("matar"), "{seen}");
    assert!(text("spanish_subject").contains("Último aviso"), "{seen}");

    // Delete, then Back: the page says what happened, with no live buttons.
    assert!(text("delete_confirm").contains("Final notice"), "{seen}");
    assert!(
        text("delete_confirm").contains("info@officialproudboys.test"),
        "{seen}"
    );
    assert!(text("after_delete").contains("Deleted"), "{seen}");
    assert!(
        text("back_after_delete").contains("Deleted by clerk"),
        "{seen}"
    );
    assert_eq!(seen["back_after_delete_forms"], 0, "{seen}");
    assert!(!w.pf.held().contains(&scripted));

    // The audit log: the delete names what was deleted; filters by message and person.
    assert!(text("audit_message").contains("Final notice"), "{seen}");
    assert!(
        text("audit_message").contains("recipients clerk@county.example"),
        "{seen}"
    );
    assert!(
        text("audit_message").contains("envelope info@officialproudboys.test"),
        "{seen}"
    );
    assert_eq!(seen["audit_message_other_ids"], 0, "{seen}");
    assert!(seen["audit_person_rows"].as_u64().unwrap() >= 3, "{seen}");
    assert_eq!(seen["audit_person_others"], 0, "{seen}");

    let mut auditor = w.web();
    auditor.api_login("auditor", PW).unwrap();
    let log = auditor.get("/api/v1/audit").unwrap().json();
    assert!(log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["actor"] == "clerk"
            && e["action"] == "release"
            && e["queue_id"] == two.as_str()
            && e["reason"] == "Checked with the sender by phone; browser test"));
}

/// Runs the palisade binary as `nobody`, as the shipped unit runs it as `palisade`.
fn as_nobody(args: &[&str], config: &Path, stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let (uid, gid) = palisade_e2e::uid_gid("nobody").unwrap();
    let mut child = Command::new(palisade_e2e::palisade_bin_for_everyone().unwrap())
        .args(args)
        .arg("--config")
        .arg(config)
        .uid(uid)
        .gid(gid)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The shipped setup: the daemon unprivileged, Postfix's queue reachable only through
/// the queue helper (root). Without the helper the same user cannot read held mail;
/// with it, a reviewer lists, reads and releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprivileged_daemon_reviews_through_the_queue_helper() {
    use std::os::unix::fs::PermissionsExt;
    let dns = dns();
    let port = free_port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Postfix itself holds one harmless message (a header_checks HOLD): held, but not
    // by Palisade, so out of the helper's reach.
    let checks = dir.path().join("header_checks");
    std::fs::write(&checks, "/^Subject: held by the admin/ HOLD\n").unwrap();
    let mut pfc = PostfixConfig::with_milter(&format!("inet:127.0.0.1:{port}"));
    pfc.extra
        .push(format!("header_checks = regexp:{}", checks.display()));
    let pf = Postfix::start(&pfc).unwrap();
    let (nobody, nogroup) = palisade_e2e::uid_gid("nobody").unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(nobody), Some(nogroup)).unwrap();
    let sock = dir.path().join("queue").join("queue.sock");
    let web = free_port().unwrap();
    let base = format!(
        "[milter]\nlisten = \"inet:127.0.0.1:{port}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[dns]\nnameservers = [\"{}\"]\ntimeout = \"500ms\"\n[auth]\nauthserv_id = \"mx.palisade.test\"\n[policy]\ntrusted_networks = []\n[state]\ndir = \"{}\"\n[web]\nlisten = \"127.0.0.1:{web}\"\n[quarantine]\npostfix_config = \"{}\"\n",
        dns.nameserver(),
        state.display(),
        pf.config_dir().display()
    );
    let tools_cfg = dir.path().join("tools.toml");
    std::fs::write(&tools_cfg, &base).unwrap();
    let helper_cfg = dir.path().join("palisade.toml");
    std::fs::write(
        &helper_cfg,
        format!("{base}helper = \"{}\"\n", sock.display()),
    )
    .unwrap();
    for f in [&tools_cfg, &helper_cfg] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // An admin creates the first account as root on a fresh install: the database goes
    // to the daemon's user (the owner of the state directory), so the daemon can use it.
    add_user(&helper_cfg, "clerk", "reviewer", PW).unwrap();
    let db = std::fs::metadata(state.join("palisade.db")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&db), nobody);
    let out = as_nobody(
        &[
            "user",
            "add",
            "auditor",
            "--role",
            "auditor",
            "--password-stdin",
        ],
        &helper_cfg,
        Some(PW),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The helper runs as root, with the socket in nobody's group.
    let group = String::from_utf8(
        Command::new("id")
            .args(["-gn", "nobody"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let mut helper = Command::new(palisade_bin().unwrap())
        .args(["quarantine", "helper", "--socket"])
        .arg(&sock)
        .args(["--group", group.trim(), "--config"])
        .arg(&tools_cfg)
        .spawn()
        .unwrap();
    palisade_e2e::wait_for(Duration::from_secs(10), || sock.exists()).unwrap();
    std::fs::set_permissions(
        sock.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::gid(&meta),
            meta.permissions().mode() & 0o777
        ),
        (nogroup, 0o660)
    );

    let mut daemon = Command::new(palisade_e2e::palisade_bin_for_everyone().unwrap());
    daemon.args(["serve", "--config"]).arg(&helper_cfg);
    {
        use std::os::unix::process::CommandExt;
        // Root's supplementary groups are dropped when uid is set.
        daemon.uid(nobody).gid(nogroup);
    }
    let mut daemon = daemon.stderr(std::process::Stdio::null()).spawn().unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    palisade_e2e::wait_for(Duration::from_secs(20), || {
        std::net::TcpStream::connect(addr).is_ok()
    })
    .unwrap();
    palisade_e2e::wait_for(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .unwrap();

    let reply = smtp_session(
        pf.smtp,
        &[Outgoing {
            from: "info@officialproudboys.test".into(),
            to: "voter@county.example".into(),
            data: fixture("proud-boys-2020.eml"),
        }],
    )
    .unwrap()
    .remove(0);
    assert!(reply.starts_with("250"), "{reply}");
    let id = pf.wait_held(1, Duration::from_secs(30)).unwrap().remove(0);

    // The same user cannot read held mail with Postfix's tools...
    let out = as_nobody(&["quarantine", "list"], &tools_cfg, None);
    assert!(!out.status.success(), "postcat should refuse nobody");
    // ...but can through the helper, and so can the daemon's review UI.
    let out = as_nobody(&["quarantine", "list", "--json"], &helper_cfg, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));
    let mut clerk = Client::new(addr);
    assert_eq!(clerk.api_login("clerk", PW).unwrap().status, 200);
    let view = clerk.get(&format!("/api/v1/quarantine/{id}")).unwrap();
    assert_eq!(view.status, 200, "{}", view.text());
    assert!(view.json()["body"][0]
        .as_str()
        .unwrap()
        .contains("come after you"));
    let r = clerk
        .get(&format!("/api/v1/quarantine/{id}/export"))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // Messages Palisade did not hold stay out of reach, whatever the daemon asks.
    let reply = smtp_session(
        pf.smtp,
        &[Outgoing {
            from: "clerk@example.net".into(),
            to: "voter@county.example".into(),
            data: "Subject: held by the admin\r\n\r\nminutes attached\r\n".into(),
        }],
    )
    .unwrap()
    .remove(0);
    assert!(reply.starts_with("250"), "{reply}");
    let admin_held = pf
        .wait_held(2, Duration::from_secs(30))
        .unwrap()
        .into_iter()
        .find(|h| *h != id)
        .unwrap();
    use palisade::quarantine::helper::{call, Request};
    for request in [
        Request::Raw {
            id: admin_held.clone(),
        },
        Request::Release {
            id: admin_held.clone(),
        },
        Request::Delete {
            id: admin_held.clone(),
        },
        Request::Copy {
            id: admin_held.clone(),
            recipients: vec!["voter@county.example".into()],
            note: None,
        },
    ] {
        let e = call(&sock, &request, &[]).unwrap_err();
        assert!(
            e.to_string().contains("Palisade did not hold it"),
            "{request:?}: {e}"
        );
    }
    assert!(pf.held().contains(&admin_held));
    let listed = as_nobody(&["quarantine", "list", "--json"], &helper_cfg, None);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&admin_held));
    let r = clerk
        .act(&id, "release", &json!({"reason": "checked with the voter"}))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    palisade_e2e::wait_for(Duration::from_secs(30), || {
        pf.delivered()
            .iter()
            .any(|m| m.contains("Vote for Trump or else!"))
    })
    .unwrap();
    assert_eq!(pf.held(), vec![admin_held]);

    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = helper.kill();
    let _ = helper.wait();
}

/// Benchmark (not run by default): how the list scales with the hold queue. Run with
/// `cargo test -p palisade-e2e --test review list_scales -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn list_scales_with_the_hold_queue() {
    let n: usize = std::env::var("HELD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let w = World::new("").await;
    let msgs: Vec<Outgoing> = (0..n)
        .map(|i| Outgoing {
            from: "info@officialproudboys.test".into(),
            to: format!("voter{i}@county.example"),
            data: fixture("proud-boys-2020.eml"),
        })
        .collect();
    for chunk in msgs.chunks(50) {
        smtp_session(w.pf.smtp, chunk).unwrap();
    }
    w.pf.wait_held(n, Duration::from_secs(300)).unwrap();
    let mut clerk = w.web();
    clerk.api_login("clerk", PW).unwrap();
    for round in ["first", "second", "third"] {
        let t = std::time::Instant::now();
        let r = clerk.get("/api/v1/quarantine").unwrap();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(r.json()["messages"].as_array().unwrap().len(), n);
        println!("list of {n} held messages, {round} request: {ms:.0} ms");
    }
}
