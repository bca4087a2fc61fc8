//! The installed Debian package serves a real Postfix. Run by tests/package/run after
//! `dpkg -i` (ignored otherwise: it needs the package installed on this machine).
//!
//! Postfix runs chrooted in Debian's own /var/spool/postfix, the chroot in which the
//! package made /var/spool/postfix/palisade, and names the socket as the installed
//! main.cf example does. Palisade runs as the installed unit says: its ExecStartPre and
//! ExecStart lines, as its User, Group and SupplementaryGroups, with the installed
//! /etc/palisade/palisade.toml. Only what a test machine needs is set from the
//! environment: ports picked here, the test's DNS server, and no trusted network (the
//! test's mail comes from 127.0.0.1). The queue helper runs as its unit says too (as
//! root, pointed at this Postfix's configuration), and the daemon's user lists the hold
//! queue through it. systemd itself is not here (no systemd as init on the test
//! machine): its sandboxing and notifications are checked elsewhere (systemd-analyze,
//! crates/palisade/tests/milter.rs).
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use palisade_e2e::{dns, PostfixConfig};
use palisade_e2e::{free_port, smtp_session, uid_gid, wait_for, Outgoing, Postfix};

const UNIT: &str = "/usr/lib/systemd/system/palisade.service";
const QUEUE_UNIT: &str = "/usr/lib/systemd/system/palisade-queue.service";
const SOCKET: &str = "/var/spool/postfix/palisade/milter.sock";

/// The values of `key=` lines in the installed unit, in order.
fn unit(key: &str) -> Vec<String> {
    unit_file(UNIT, key)
}

fn unit_file(path: &str, key: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

/// A command line of the unit, run as root (`+`) or as the unit's user and groups.
fn unit_command(line: &str, env: &[(String, String)]) -> Command {
    let (privileged, line) = match line.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut cmd = if privileged {
        Command::new(words[0])
    } else {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", unit("User")[0]))
            .arg(format!("--regid={}", unit("Group")[0]))
            .arg(format!(
                "--groups={}",
                unit("SupplementaryGroups").join(",")
            ))
            .arg("--")
            .arg(words[0]);
        c
    };
    cmd.args(&words[1..]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "run by tests/package/run once the .deb is installed"]
fn the_installed_package_serves_a_chrooted_postfix() {
    // The main.cf lines as installed with the package's documentation.
    let main_cf = std::fs::read_to_string("/usr/share/doc/palisade/examples/main.cf").unwrap();
    let get = |key: &str| {
        main_cf
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .unwrap()
    };
    let milter = get("smtpd_milters");
    assert_eq!(milter, "unix:/palisade/milter.sock");
    let mut pfc = PostfixConfig::with_milter(&milter);
    pfc.default_action = get("milter_default_action");
    pfc.chroot = true;
    pfc.queue_directory = Some("/var/spool/postfix".into());
    let pf = Postfix::start(&pfc).unwrap();

    // The queue helper, as its unit runs it: root, with the runtime and state
    // directories systemd would make (RuntimeDirectory=, StateDirectory=).
    let helper_env = vec![(
        "PALISADE__QUARANTINE__POSTFIX_CONFIG".to_string(),
        pf.config_dir().display().to_string(),
    )];
    for (key, mode_key, base) in [
        ("RuntimeDirectory", "RuntimeDirectoryMode", "/run"),
        ("StateDirectory", "StateDirectoryMode", "/var/lib"),
    ] {
        let dir = Path::new(base).join(&unit_file(QUEUE_UNIT, key)[0]);
        let mode = u32::from_str_radix(&unit_file(QUEUE_UNIT, mode_key)[0], 8).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let helper_line = format!("+{}", unit_file(QUEUE_UNIT, "ExecStart")[0]);
    let _helper = Daemon(
        unit_command(&helper_line, &helper_env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(Duration::from_secs(30), || {
        std::fs::metadata("/run/palisade-queue/queue.sock").is_ok_and(|m| m.file_type().is_socket())
    })
    .unwrap();

    let dns = dns::proud_boys().unwrap();
    let http = free_port().unwrap();
    let env: Vec<(String, String)> = [
        ("PALISADE__HTTP__LISTEN", format!("127.0.0.1:{http}")),
        (
            "PALISADE__WEB__LISTEN",
            format!("127.0.0.1:{}", free_port().unwrap()),
        ),
        ("PALISADE__DNS__NAMESERVERS", dns.nameserver()),
        ("PALISADE__POLICY__TRUSTED_NETWORKS", String::new()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    // ExecStartPre: the socket directory (as root), then the configuration check.
    for line in unit("ExecStartPre") {
        let out = unit_command(&line, &env).output().unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = std::fs::metadata("/var/spool/postfix/palisade").unwrap();
    let (palisade_uid, _) = uid_gid("palisade").unwrap();
    let (_, postfix_gid) = uid_gid("postfix").unwrap();
    assert_eq!(
        (dir.uid(), dir.gid(), dir.mode() & 0o777),
        (palisade_uid, postfix_gid, 0o750)
    );

    let start = unit("ExecStart").remove(0);
    assert!(start.starts_with("/usr/bin/palisade serve"), "{start}");
    let log_file = tempfile::NamedTempFile::new().unwrap();
    let mut daemon = Daemon(
        unit_command(&start, &env)
            .stdout(Stdio::null())
            .stderr(log_file.reopen().unwrap())
            .spawn()
            .unwrap(),
    );
    let log = || std::fs::read_to_string(log_file.path()).unwrap_or_default();
    wait_for(Duration::from_secs(30), || {
        std::fs::metadata(SOCKET).is_ok_and(|m| m.file_type().is_socket())
    })
    .unwrap_or_else(|_| panic!("no socket: {}", log()));
    let sock = std::fs::metadata(SOCKET).unwrap();
    assert_eq!(
        (sock.uid(), sock.gid(), sock.mode() & 0o777),
        (palisade_uid, postfix_gid, 0o660)
    );

    // Ordinary mail is delivered, tagged; the 2020 message is held.
    let held = pf.ordinary_mail_delivered_and_the_2020_threat_held();

    // The daemon's user reviews the hold queue through the queue helper, as the
    // installed configuration says (`[quarantine] helper`), not by reading the queue.
    let list = unit_command(
        "/usr/bin/palisade quarantine list --config /etc/palisade/palisade.toml",
        &[],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(text.contains(&held), "{text}");

    // systemctl reload: the unit's ExecReload lines (the check, then SIGHUP).
    for line in unit("ExecReload") {
        let line = line.replace("$MAINPID", &daemon.0.id().to_string());
        let out = unit_command(&line, &env).output().unwrap();
        assert!(out.status.success(), "{line}");
    }
    let metrics = || {
        ureq::get(&format!("http://127.0.0.1:{http}/metrics"))
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()
    };
    wait_for(Duration::from_secs(10), || {
        metrics().is_some_and(|m| m.contains("palisade_config_reloads_total{result=\"success\"} 1"))
    })
    .unwrap_or_else(|_| panic!("no reload in {:?}", metrics()));
    let reply = smtp_session(
        pf.smtp,
        &[Outgoing {
            from: "clerk@example.net".into(),
            to: "voter@county.example".into(),
            data: "Subject: agenda\r\n\r\nThe agenda for Tuesday.\r\n".into(),
        }],
    )
    .unwrap();
    assert!(reply[0].starts_with("250"), "{reply:?}");
    pf.wait_delivered(2, Duration::from_secs(30)).unwrap();

    // systemctl stop: SIGTERM, a clean exit, the socket gone.
    let kill = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.0.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "{status}: {}", log());
    assert!(!Path::new(SOCKET).exists(), "{}", log());
}
