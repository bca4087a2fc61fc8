//! An unprivileged daemon reviews through the root queue helper; the list scales with
//! the hold queue.

use super::*;

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
    use palisade_queue::helper::{call, Request};
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
