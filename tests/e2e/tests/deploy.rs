//! The shipped deployment works as shipped: the systemd unit's socket directory, the
//! Debian configuration and the main.cf lines, with Postfix's smtpd and cleanup
//! chrooted as on Debian. The test reads those three files and maps /var/spool/postfix
//! onto its own Postfix's queue directory and /etc/palisade/rules onto config/rules;
//! nothing else is changed. tests/package/run checks the same with the installed .deb.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade_config::{Config, Sources};
use palisade_e2e::{uid_gid, Postfix, PostfixConfig};
use palisade_server::start;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// `key = value` lines of the main.cf excerpt.
fn main_cf() -> Vec<(String, String)> {
    std::fs::read_to_string(repo("deploy/postfix/main.cf"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// The directory and mode the unit creates for the socket (`install -d … -m MODE DIR`).
fn unit_socket_dir() -> (PathBuf, u32) {
    let unit = std::fs::read_to_string(repo("deploy/systemd/palisade.service")).unwrap();
    let line = unit
        .lines()
        .find(|l| l.starts_with("ExecStartPre=") && l.contains("install -d"))
        .expect("the unit creates the socket directory");
    let words: Vec<&str> = line.split_whitespace().collect();
    let mode = words
        .iter()
        .position(|w| *w == "-m")
        .map(|i| u32::from_str_radix(words[i + 1], 8).unwrap())
        .unwrap();
    (PathBuf::from(words.last().unwrap()), mode)
    // The unit also runs Palisade with SupplementaryGroups=postfix, checked below.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_unit_config_and_main_cf_serve_a_chrooted_postfix() {
    let unit = std::fs::read_to_string(repo("deploy/systemd/palisade.service")).unwrap();
    assert!(unit.contains("SupplementaryGroups=postfix"), "{unit}");
    assert!(!unit.contains("DynamicUser"), "{unit}");
    let cf = main_cf();
    let get = |k: &str| {
        cf.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let milter = get("smtpd_milters");
    let mut pfc = PostfixConfig::with_milter(&milter);
    pfc.default_action = get("milter_default_action");
    pfc.extra
        .push(format!("non_smtpd_milters = {}", get("non_smtpd_milters")));
    pfc.chroot = true;
    let pf = Postfix::start(&pfc).unwrap();

    // The unit's socket directory, with /var/spool/postfix mapped onto this queue.
    let (dir, mode) = unit_socket_dir();
    let chroot = pf.queue_dir();
    let rel = dir.strip_prefix("/var/spool/postfix").unwrap();
    let dir = chroot.join(rel);
    let (_, postfix_gid) = uid_gid("postfix").unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, None, Some(postfix_gid)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();

    // The Debian example configuration, same mapping.
    let mut c = Config::load(&Sources {
        file: Some(repo("deploy/debian/palisade.toml")),
        env: Vec::new(),
    })
    .unwrap();
    let listen = c.milter.listen.clone();
    let path = listen.strip_prefix("unix:").unwrap();
    let path = chroot.join(Path::new(path).strip_prefix("/var/spool/postfix").unwrap());
    // main.cf names the same socket, relative to the chroot.
    assert_eq!(
        chroot.join(milter.strip_prefix("unix:/").unwrap()),
        path,
        "main.cf and the configuration name different sockets"
    );
    c.milter.listen = format!("unix:{}", path.display());
    // The package's rule packs in /etc/palisade/rules are config/rules here.
    assert!(!c.rules.builtin);
    assert_eq!(c.rules.paths, ["/etc/palisade/rules/*.toml"]);
    c.rules.paths = vec![repo("config/rules").join("*.toml").display().to_string()];
    c.http.listen = "127.0.0.1:0".into();
    c.milter.shutdown_grace = Duration::from_secs(5);
    c.policy.trusted_networks.clear();
    c.auth.enabled = false;
    // The shipped review UI listens on a fixed port and keeps its data in /var/lib:
    // here, a free port and a scratch database.
    let scratch = tempfile::tempdir().unwrap();
    c.web.listen = "127.0.0.1:0".into();
    c.web.database = scratch.path().join("palisade.db").display().to_string();
    c.state.dir = scratch.path().join("state");
    let running = start(c).await.unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.gid(), postfix_gid, "socket not in group postfix");
    assert_eq!(meta.mode() & 0o777, 0o660);

    // Mail goes through smtpd (chrooted) to Palisade and on.
    pf.ordinary_mail_delivered_and_the_2020_threat_held();
    running.shutdown().await.unwrap();
}
