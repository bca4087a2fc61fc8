//! What a sender wrote is escaped, nothing changes without a session and its CSRF token,
//! and TLS is required off loopback.

use super::*;

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
