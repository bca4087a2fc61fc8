//! A third-party MTA-side client, OpenDKIM's miltertest, against the daemon.
#![allow(clippy::unwrap_used)]

use palisade_config::{Config, Sources};
use palisade_e2e::miltertest;
use palisade_server::{start, BoundAddr};

async fn run_script(listen: &str) {
    let mut c = Config::load(&Sources::default()).unwrap();
    c.state.dir = palisade_e2e::state_dir();
    c.milter.listen = listen.into();
    c.http.listen = "127.0.0.1:0".into();
    // A protocol test: no DNS (the machine's resolver is not ours to query).
    c.auth.enabled = false;
    let running = start(c).await.unwrap();
    let socket = match &running.milter {
        BoundAddr::Tcp(a) => format!("inet:{}@{}", a.port(), a.ip()),
        BoundAddr::Unix(p) => format!("unix:{}", p.display()),
    };
    let out = tokio::task::spawn_blocking(move || miltertest("headers.lua", &socket))
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "miltertest failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miltertest_over_tcp() {
    run_script("inet:127.0.0.1:0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miltertest_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    run_script(&format!("unix:{}", dir.path().join("m.sock").display())).await;
}
