//! The review UI in a real browser (headless Chromium).

use super::*;

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
