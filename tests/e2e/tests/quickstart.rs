//! The README's quick start as a newcomer runs it: `cargo run --release -- serve` from a
//! fresh clone, as an ordinary user, on the embedded defaults (no configuration file,
//! no `PALISADE__` variables). The daemon must answer milter traffic on
//! 127.0.0.1:8895 and `/healthz` on 127.0.0.1:9895 and keep its state in the user's own
//! state directory.
//!
//! The defaults' ports are fixed, and this machine may serve mail with a Palisade of its
//! own on them: the daemon under test runs in a network namespace of its own (only
//! loopback), and the test's client threads join that namespace to talk to it.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade_e2e::{palisade_bin_for_everyone, uid_gid};

/// The daemon, killed and reaped however the test ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `f` on a thread that has joined the network namespace of process `pid`, once
/// that process has left ours (unshare(1) makes it after it starts): the sockets the
/// thread opens live there.
fn in_netns_of<T: Send + 'static>(pid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/proc/{pid}/ns/net");
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    palisade_e2e::wait_for(Duration::from_secs(10), || {
        std::fs::read_link(&path).is_ok_and(|ns| ns != ours)
    })
    .unwrap_or_else(|_| panic!("process {pid} never left this network namespace"));
    std::thread::spawn(move || {
        let ns = std::fs::File::open(&path).unwrap();
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

#[test]
fn the_embedded_defaults_serve_an_ordinary_user() {
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    assert!(
        root,
        "needs root: the daemon runs as nobody in a network namespace of its own"
    );
    let (uid, gid) = uid_gid("nobody").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // unshare(1) and setpriv(1) exec in place: the child's pid is the daemon's.
    let bin = palisade_bin_for_everyone().unwrap();
    let script = format!(
        "ip link set lo up && exec setpriv --reuid={uid} --regid={gid} --clear-groups -- \
         env -i HOME='{home}' PATH=/usr/bin:/bin TMPDIR='{tmp}' '{bin}' serve",
        home = home.display(),
        tmp = std::env::temp_dir().display(),
        bin = bin.display()
    );
    let daemon = Daemon(
        Command::new("unshare")
            .args(["--net", "--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let pid = daemon.0.id();

    let answer = in_netns_of(pid, move || {
        let start = Instant::now();
        while std::net::TcpStream::connect("127.0.0.1:8895").is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                return Err("nothing listens on 127.0.0.1:8895 after 30 s".to_string());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let milter = rt
            .block_on(palisade_e2e::milter::send(
                "inet:127.0.0.1:8895",
                "192.0.2.10",
                "clerk@county.example",
                b"From: clerk@county.example\r\nTo: voter@county.test\r\nSubject: polling hours\r\n\r\nPolls are open from 7 to 8 on Tuesday.\r\n",
            ))
            .map_err(|e| format!("milter: {e:#}"))?;
        let mut http = std::net::TcpStream::connect("127.0.0.1:9895")
            .map_err(|e| format!("127.0.0.1:9895: {e}"))?;
        http.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut health = String::new();
        http.read_to_string(&mut health).unwrap();
        Ok((milter, health))
    });
    let (milter, health) = answer.unwrap_or_else(|e| panic!("{e}\n{}", read_log()));
    let result = milter.header("X-Palisade-Result").unwrap_or_default();
    assert!(result.starts_with("accept"), "{milter:?}\n{}", read_log());
    assert!(
        health.starts_with("HTTP/1.") && health.contains(" 200 ") && health.ends_with("ok\n"),
        "{health}"
    );

    // The state went to the user's own state directory, and the log says so.
    let state = home.join(".local/state/palisade");
    let key = std::fs::metadata(state.join("campaign.key")).unwrap_or_else(|e| {
        panic!(
            "no campaign key in {}: {e}\n{}",
            state.display(),
            read_log()
        )
    });
    assert_eq!(key.uid(), uid);
    let text = read_log();
    assert!(
        text.contains("state directory")
            && text.contains(&state.display().to_string())
            && text.contains("this user's state directory"),
        "{text}"
    );
}

/// `cargo run` runs the daemon: among the workspace's default members only the palisade
/// package has binaries, and it has one, `palisade`.
#[test]
fn cargo_run_has_one_binary_to_run() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let defaults: Vec<&str> = meta["workspace_default_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut bins = Vec::new();
    for package in meta["packages"].as_array().unwrap() {
        if !defaults.contains(&package["id"].as_str().unwrap()) {
            continue;
        }
        for target in package["targets"].as_array().unwrap() {
            if target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == "bin")
            {
                bins.push(format!(
                    "{}:{}",
                    package["name"].as_str().unwrap(),
                    target["name"].as_str().unwrap()
                ));
            }
        }
    }
    assert_eq!(bins, ["palisade:palisade"]);
}
