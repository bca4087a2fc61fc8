//! A reviewer releases a held threat, and the audit log proves what happened.

use super::*;

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
